"""Erasure (Art. 17 and the retention run) on a municipal node federated with the state: after it, no canary
is left in any database file, Redis key, stream entry, AOF or log line of either level, and every figure is
what it was before."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
import sqlalchemy as sa
from sqlmodel import col, select

from services.cases.erasure import Ground, run_retention
from services.cases.models import Case, CaseStatus
from services.plans.models import Plan
from shared import clock
from shared.runtime.embedded import EmbeddedServer
from tests.e2e.test_federation_link import server
from tests.integration.test_cases_canary import levels  # noqa: F401  (the fixture)
from tests.integration.test_cases_service import everything_in_redis
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART = "08111000"
CASES, PLANS = "/api/cases/v1", "/api/plans/v1"
CANARIES = ("Xylofon-Erase", "Quarzit-Erase", "Renamed-Erase", "1981-03-23", "Note-Erase-Text",
            "Goal-Erase-Title", "Step-Erase-What", "Partner-Erase-Name", "Reason-Erase-Glass",
            "Justify-Erase-Text")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def open_case(node: NodeHandle, as_: dict[str, str], given: str, family: str, born: str = "1981-03-23") -> str:
    case = ok(node.client.post(f"{CASES}/cases", headers=as_, json={
        "given_name": given, "family_name": family, "birth_date": born, "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "eligibility": "follow_up_accommodation",
        "accommodation_since": "2020-02-01", "household_members": [{"relation": "child", "birth_year": 2012}]}), 201)
    return str(case["id"])


def the_plan(node: NodeHandle, as_: dict[str, str], cid: str) -> dict[str, Any]:
    return eventually(lambda: (r := node.client.get(f"{PLANS}/plans", headers=as_, params={"case_id": cid}))
                      .status_code == 200 and r.json())


def figures(node: NodeHandle, state: NodeHandle, lead: dict[str, str]) -> list[Any]:
    """Every figure either level shows about the municipality."""
    operator = state.headers("op", "state_operator")
    year = clock.today().year
    return [
        ok(node.client.get(f"{CASES}/caseloads", headers=lead)),
        ok(node.client.get(f"{CASES}/statistics/consultations", headers=lead)),
        ok(node.client.get(f"{PLANS}/statistics/goals", headers=lead)),
        ok(node.client.get(f"{PLANS}/statistics/referrals", headers=lead)),
        ok(state.client.get(f"{CASES}/statistics/outcomes", headers=operator, params={"year": year})),
        ok(state.client.get(f"{PLANS}/statistics/goals", headers=operator)),
        ok(state.client.get(f"{PLANS}/statistics/referrals", headers=operator)),
    ]


def database_bytes(node: NodeHandle) -> bytes:
    """Every file of the node's databases (the WAL and shared memory included)."""
    return b"\n".join(p.read_bytes() for p in Path(node.settings.data_dir).rglob("*.db*") if p.is_file())


def test_an_erased_case_leaves_nothing_on_either_level_and_every_figure_stays(
        levels: tuple[NodeHandle, NodeHandle, EmbeddedServer, EmbeddedServer],  # noqa: F811
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    muni, state, muni_srv, state_srv = levels
    m1, m2 = muni.headers("m1", "manager", tenants=[STUTTGART]), muni.headers("m2", "manager", tenants=[STUTTGART])
    lead = muni.headers("l1", "lead", tenants=[STUTTGART])
    cid = open_case(muni, m1, "Xylofon-Erase", "Quarzit-Erase")
    kept = open_case(muni, m1, "Bleibt-Hier", "Unberuehrt", born="1990-01-01")  # a case that is not erased
    for held_on in ("2024-01-10", "2024-02-14"):
        ok(muni.client.post(f"{CASES}/cases/{cid}/consultations", headers=m1, json={
            "held_on": held_on, "duration_minutes": 45, "mode": "office", "topics": ["work", "language"],
            "note": "Note-Erase-Text"}), 201)
    ok(muni.client.patch(f"{CASES}/cases/{cid}", headers=m1, json={"family_name": "Renamed-Erase"}))
    ok(muni.client.post(f"{CASES}/cases/{cid}/counselling-extension", headers=lead,
                        json={"justification": "Justify-Erase-Text"}))
    ok(muni.client.get(f"{CASES}/cases", headers=lead, params={"q": "Xylofon-Erase"}))
    ok(muni.client.post(f"{CASES}/cases/{cid}/consents", headers=m1, json={
        "purpose": "partner_sharing", "given_on": "2024-01-10", "form": "written", "partner": "Partner-Erase-Name"}),
       201)
    ok(muni.client.post(f"{CASES}/cases/{cid}/break-glass", headers=m2,
                        json={"reason": "Reason-Erase-Glass: Vertretung im Urlaub"}), 201)
    plan = the_plan(muni, m1, cid)
    goal = ok(muni.client.post(f"{PLANS}/plans/{plan['id']}/goals", headers=m1, json={
        "area": "work", "title": "Goal-Erase-Title", "target_date": (clock.today() + timedelta(days=90)).isoformat()}),
              201)
    ok(muni.client.post(f"{PLANS}/plans/{plan['id']}/goals/{goal['id']}/steps", headers=m1, json={
        "what": "Step-Erase-What", "who": "partner", "partner_type": "jobcenter"}), 201)
    ok(muni.client.post(f"{PLANS}/plans/{plan['id']}/agreements", headers=m1, json={
        "agreed_on": clock.today().isoformat(), "language": "ar", "signed_on_paper": True}), 201)
    refused = muni.client.post(f"{CASES}/cases/{cid}/erase", headers=lead, json={"reason": "Antrag auf Löschung"})
    assert refused.status_code == 409 and "close it first" in refused.text  # an open case is closed first
    ok(muni.client.post(f"{CASES}/cases/{cid}/close", headers=m1, json={"reason": "moved_away"}))

    def closed_at_state() -> bool:
        from services.cases.state.models import StateCase
        with state.node.contexts["cases"].database.session() as s:
            return any(c.closed_on is not None for c in s.exec(select(StateCase)).all())

    eventually(closed_at_state, timeout=30)

    def settled() -> list[Any] | None:  # the plans' events travel on their own stream: wait until all arrived
        first = figures(muni, state, lead)
        time.sleep(0.5)
        return first if first == figures(muni, state, lead) else None

    eventually(settled, timeout=30)
    before = figures(muni, state, lead)

    # Sealed at rest: the database files never held the names, notes or plan texts in plaintext.
    held = database_bytes(muni)
    assert not [c for c in CANARIES if c.encode() in held]
    copies = backups(muni, tmp_path)  # a backup of every service database, taken before the erasure
    assert {"Case.given_name", "Consultation.note", "Goal.title", "Step.what", "PlanVersion.snapshot"} <= set(
        readable_fields(copies, muni, cid, plan["id"]))  # while the keys live, the backup opens
    # the lead erases on request, with a reason; the bad requests name their field
    assert muni.client.post(f"{CASES}/cases/{cid}/erase", headers=m1,
                            json={"reason": "Antrag der Klientin"}).status_code == 403
    short = muni.client.post(f"{CASES}/cases/{cid}/erase", headers=lead, json={"reason": "kurz"})
    assert short.status_code == 422 and short.json()["detail"][0]["field"] == "reason"
    erased = ok(muni.client.post(f"{CASES}/cases/{cid}/erase", headers=lead,
                                 json={"reason": "Antrag der Klientin nach Art. 17 DSGVO"}), 202)
    assert (erased["case_id"], erased["ground"], erased["erased_by"]) == (cid, "request", "l1")
    # the file exists for no one any more, and is found by no search; the other case is untouched
    assert muni.client.get(f"{CASES}/cases/{cid}", headers=lead).status_code == 404
    assert muni.client.post(f"{CASES}/cases/{cid}/erase", headers=lead,
                            json={"reason": "noch einmal bitte"}).status_code == 404
    assert ok(muni.client.get(f"{CASES}/cases", headers=lead, params={"q": "Erase"}))["items"] == []
    assert ok(muni.client.get(f"{CASES}/cases/{kept}", headers=m1))["family_name"] == "Unberuehrt"
    assert [e["case_id"] for e in ok(muni.client.get(f"{CASES}/erasures", headers=lead))] == [cid]

    def plan_erased() -> bool:
        with muni.node.contexts["plans"].database.session() as s:
            row = s.exec(select(Plan).where(Plan.case_id == cid)).first()
            return row is not None and row.erased_on is not None

    eventually(plan_erased, timeout=30)
    assert muni.client.get(f"{PLANS}/plans", headers=m1, params={"case_id": cid}).status_code == 404
    assert figures(muni, state, lead) == before  # what the figures count stays

    def no_canary_left() -> list[tuple[str, str]]:
        found = []
        for name, node, srv in (("municipal", muni, muni_srv), ("state", state, state_srv)):
            client = redis_sync.Redis.from_url(srv.url)
            try:
                rewrite_aof(client)  # the AOF as the server rewrites it from what it holds now
                held = b"\n".join(everything_in_redis(client))
            finally:
                client.close()
            aof = b"\n".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
            files = database_bytes(node)
            found += [(name, c) for c in CANARIES for where in (held, aof, files) if c.encode() in where]
        return found

    leftovers = eventually(lambda: not no_canary_left() or None, timeout=20) and no_canary_left()
    assert leftovers == []
    # nor in any log line of either node (the test's own HTTP client logs the URLs it asks for: not the nodes')
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "httpx")
    assert "lotse.access" in logged and not [c for c in CANARIES if c in logged]
    with muni.node.contexts["cases"].database.session() as s:
        shell = s.get(Case, cid)
        assert shell is not None and (shell.status, shell.given_name, shell.household_members) == (
            CaseStatus.closed, None, [{"relation": "child"}])  # its key is destroyed: nothing opens any more
    # Crypto-shredding: the backup taken before the erasure, opened with the node's key store, yields
    # no personal field of the case (and its bytes hold none of the canaries).
    assert not [c for c in CANARIES for copy in copies.values() if c.encode() in copy.read_bytes()]
    assert readable_fields(copies, muni, cid, plan["id"]) == []
    assert ok(muni.client.get(f"{CASES}/cases/{kept}", headers=m1))["given_name"] == "Bleibt-Hier"


def rewrite_aof(client: redis_sync.Redis) -> None:
    """BGREWRITEAOF, and wait until the rewrite finished (a rewrite already under way counts)."""
    try:
        client.bgrewriteaof()
    except redis_sync.ResponseError as exc:
        if "in progress" not in str(exc):
            raise
    eventually(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0
               and client.info("persistence")["aof_rewrite_scheduled"] == 0, timeout=20)


def backups(node: NodeHandle, into: Path) -> dict[str, Path]:
    """A consistent copy of each service database (SQLite's online backup), as an operator's backup job makes."""
    copies = {}
    for service, ctx in node.node.contexts.items():
        source = Path(ctx.database.url.split("///", 1)[1])
        copies[service] = into / f"backup-{service}.db"
        with sqlite3.connect(source) as src, sqlite3.connect(copies[service]) as dst:
            src.backup(dst)
    return copies


def readable_fields(copies: dict[str, Path], node: NodeHandle, cid: str, plan_id: str) -> list[str]:
    """Every sealed field of the case's rows in the backups that still opens with the node's key store."""
    from services.cases.consents import Consent
    from services.cases.models import Consultation
    from services.plans.models import Goal, PlanVersion, Step
    from shared.db import Database
    from shared.sealing import sealed_fields

    found = []
    for service, queries in (("cases", [select(Case).where(Case.id == cid),
                                        select(Consultation).where(Consultation.case_id == cid),
                                        select(Consent).where(Consent.case_id == cid)]),
                             ("plans", [select(Plan).where(Plan.id == plan_id),
                                        select(Goal).where(Goal.plan_id == plan_id),
                                        select(Step).where(col(Step.goal_id).in_(
                                            select(Goal.id).where(Goal.plan_id == plan_id))),
                                        select(PlanVersion).where(PlanVersion.plan_id == plan_id)])):
        db = Database(f"sqlite:///{copies[service]}", [])
        db.keystore = node.node.keystore
        try:
            with db.session() as s:
                for query in queries:
                    rows = list(s.exec(query).all())
                    assert rows, f"the backup holds the case's rows ({query})"
                    for row in rows:
                        found += [f"{type(row).__name__}.{name}" for name, _, _ in sealed_fields(type(row))
                                  if getattr(row, name) not in (None, "")]
        finally:
            db.dispose()
    return found


def test_the_retention_run_erases_exactly_what_is_due_and_survives_an_interruption(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = server(tmp_path, "redis")
    try:
        with running_node(tmp_path, srv.url, node_id="node-r", tenants=[STUTTGART],
                          scheduler_interval_s=3600) as node:
            m1 = node.headers("m1", "manager", tenants=[STUTTGART])
            ids = [open_case(node, m1, f"Retention{letter}", "Fall") for letter in "ABCD"]
            for cid in ids[:3]:
                ok(node.client.post(f"{CASES}/cases/{cid}/close", headers=m1, json={"reason": "independent"}))
            db = node.node.contexts["cases"].database
            closed = {ids[0]: date(2021, 5, 31), ids[1]: date(2021, 6, 1), ids[2]: date(2023, 1, 1)}
            with db.session() as s:  # the test moves the cases' closing days, not the clock
                for cid, day in closed.items():
                    s.execute(sa.update(Case).where(Case.id == cid).values(closed_on=day))  # type: ignore[arg-type]
                s.commit()
            # the first run (three years, the default) breaks after its first erasure: the node stopped, say
            from services.cases import erasure
            real = erasure.erase_case
            calls = {"n": 0}

            def breaking(*args: Any, **kw: Any) -> Any:
                calls["n"] += 1
                if calls["n"] == 2:
                    raise RuntimeError("the node stopped")
                return real(*args, **kw)

            def erased() -> dict[str, bool]:
                with db.session() as s:
                    return {c.id: c.erased_on is not None for c in s.exec(select(Case)).all()}

            monkeypatch.setattr(erasure, "erase_case", breaking)
            with pytest.raises(RuntimeError):
                run_retention(db, day=date(2024, 6, 2), years=3, tenants=[STUTTGART], node="node-r")
            monkeypatch.setattr(erasure, "erase_case", real)
            assert erased() == {ids[0]: True, ids[1]: False, ids[2]: False, ids[3]: False}
            # closed exactly three years before the day: not yet due
            assert run_retention(db, day=date(2024, 6, 1), years=3, tenants=[STUTTGART], node="node-r").due == 0
            # the day after, the rest of the interrupted run is due, and nothing else
            run = run_retention(db, day=date(2024, 6, 2), years=3, tenants=[STUTTGART], node="node-r")
            assert (run.due, run.erased) == (1, 1)
            assert erased() == {ids[0]: True, ids[1]: True, ids[2]: False, ids[3]: False}
            assert run_retention(db, day=date(2024, 6, 2), years=3, tenants=[STUTTGART], node="node-r").due == 0
            runs = ok(node.client.get(f"{CASES}/erasure-runs", headers=node.headers("admin", "node_admin")))
            assert runs["retention_years"] == 3
            # newest first; the interrupted run shows as not finished (the node's own run at its start is older)
            assert [(r["due"], r["erased"], r["finished_at"] is not None) for r in runs["runs"]][:4] == [
                (0, 0, True), (1, 1, True), (0, 0, True), (2, 1, False)]
            erasures = ok(node.client.get(f"{CASES}/erasures", headers=node.headers("l1", "lead",
                                                                                      tenants=[STUTTGART])))
            assert {e["ground"] for e in erasures} == {Ground.retention} and len(erasures) == 2
            assert all(e["erased_by"] == "retention" and e["reason"] is None for e in erasures)
    finally:
        srv.stop()
