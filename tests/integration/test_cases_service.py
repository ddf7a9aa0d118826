"""The cases service on a real node: case files, consultations, thin events, access, the audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from services.cases.counselling import years_after
from services.cases.models import TABLES, AuditEntry, Case, Consultation
from shared import clock
from shared.bus import OutboxEvent
from shared.db import Database
from shared.events import DEAD_LETTERS, STREAMS, Envelope
from shared.migrations import history_for, upgrade
from shared.runtime.embedded import EmbeddedServer
from shared.settings import ALL_SERVICES
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

API = "/api/cases/v1"
TODAY = clock.today()
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
MB = "x" * 60_000  # past every field's limit, within the 64 KB body limit (past it: 413, test_hardening_bodies)
UNKNOWN = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17",
        "nationality": "SYR", "languages": ["ar", "en"], "household_size": 4,
        "accommodation_since": "2023-02-01"}
CONSULTATION = {"held_on": YESTERDAY.isoformat(), "duration_minutes": 45, "mode": "outreach",
                "topics": ["work", "language"],
                "note": "Bewerbung bei der Stadtbäckerei besprochen"}


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases")  # only this service: the test stands on its own


def manager(node: NodeHandle, sub: str = "m1", tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(sub, "manager", tenants=[tenant])


def lead(node: NodeHandle, tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(f"lead-{tenant}", "lead", tenants=[tenant])


def open_case(node: NodeHandle, as_: dict[str, str], **body: Any) -> dict[str, Any]:
    r = node.client.post(f"{API}/cases", headers=as_, json={**CASE, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def consult(node: NodeHandle, case_id: str, as_: dict[str, str], **body: Any) -> Any:
    return node.client.post(f"{API}/cases/{case_id}/consultations", headers=as_,
                            json={**CONSULTATION, **body})


def counts(node: NodeHandle) -> tuple[int, int, int, int]:
    """Cases, consultations, outbox rows and audit rows: what a refusal must leave alone."""
    with node.node.contexts["cases"].database.session() as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(table)).one()
            for table in (Case, Consultation, OutboxEvent, AuditEntry))


def case_events(redis: Redis) -> list[Envelope]:
    entries: Any = redis.xrange(STREAMS["cases"])
    return [Envelope.model_validate_json(f[b"event"]) for _, f in entries]


# -- happy path and events --------------------------------------------------------------------
def test_case_lifecycle_and_its_thin_events(node: NodeHandle, redis: Redis) -> None:
    as_m1 = manager(node)
    r = node.client.post(f"{API}/cases", headers=as_m1, json={**CASE, "given_name": "  Amina "})
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id"]
    assert {k: case[k] for k in ("id", "tenant", "status", "manager")} == {
        "id": cid, "tenant": STUTTGART, "status": "open", "manager": "m1"}
    assert case == {**CASE, "id": cid, "tenant": STUTTGART, "status": "open", "manager": "m1",
                    "opened_on": TODAY.isoformat(), "closed_on": None, "close_reason": None,
                    "eligibility": "follow_up_accommodation", "eligible_since": CASE["accommodation_since"],
                    "household_members": [], "first_consultation_on": None, "counselling_ends_on": None,
                    "counselling_extended_on": None, "extension_justification": None,
                    "created_at": case["created_at"], "updated_at": case["updated_at"]}
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m1).json() == case

    r = consult(node, cid, as_m1)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first == {**CONSULTATION, "id": first["id"], "case_id": cid, "recorded_by": "m1",
                     "created_at": first["created_at"]}
    older = consult(node, cid, as_m1, held_on="2024-06-03", duration_minutes=600, mode="group",
                    topics=["everyday_life"], note=None).json()
    shown = node.client.get(f"{API}/cases/{cid}/consultations", headers=as_m1).json()
    assert [c["id"] for c in shown] == [older["id"], first["id"]]  # in the order they were held
    assert shown[1] == first

    r = node.client.post(f"{API}/cases/{cid}/close", headers=as_m1,
                         json={"reason": "independent"})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["closed_on"], closed["close_reason"]) == (
        "closed", TODAY.isoformat(), "independent")
    before = counts(node)
    r = node.client.post(f"{API}/cases/{cid}/close", headers=as_m1, json={"reason": "other"})
    assert r.status_code == 409 and r.json()["detail"] == (
        f"case is closed: closed on {TODAY.isoformat()} (independent)")
    r = consult(node, cid, as_m1)
    assert r.status_code == 409 and r.json()["detail"].startswith("case is closed")
    assert counts(node) == before
    # closed cases stay readable: the record of the work done
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m1).json()["status"] == "closed"

    # each consultation that starts or moves the counselling clock announces it (local only)
    everything = eventually(lambda: (e := case_events(redis)) and len(e) == 6 and e)
    clock = [e for e in everything if e.type == "CounsellingPeriodSet"]
    assert [(e.scope, e.payload["ends_on"]) for e in clock] == [
        ("local", years_after(YESTERDAY, 3).isoformat()), ("local", "2027-06-03")]
    events = [e for e in everything if e.type != "CounsellingPeriodSet"]
    assert [e.type for e in events] == [
        "CaseOpened", "ConsultationRecorded", "ConsultationRecorded", "CaseClosed"]
    assert all(e.tenant == STUTTGART and e.aggregate_id == cid and e.node == "test-node"
               and e.scope == "up" and e.version == 1 for e in events)
    assert events[0].payload == {"case_id": cid, "manager": "m1", "opened_on": TODAY.isoformat(),
                                 "household_size": 4, "eligibility": "follow_up_accommodation",
                                 "household_members": {}}
    assert events[1].payload == {"case_id": cid, "consultation_id": first["id"], "manager": "m1",
                                 "held_on": YESTERDAY.isoformat(), "duration_minutes": 45,
                                 "mode": "outreach", "topics": ["work", "language"]}
    assert events[2].payload["consultation_id"] == older["id"]
    assert events[3].payload == {"case_id": cid, "manager": "m1",
                                 "closed_on": TODAY.isoformat(), "reason": "independent"}
    raw = json.dumps([e.model_dump(mode="json") for e in events])
    for personal in ("Amina", "Haddad", "1990-05-17", "SYR", "Stadtbäckerei", "2023-02-01"):
        assert personal not in raw
    assert redis.xlen(DEAD_LETTERS) == 0


def test_a_lead_opens_for_one_of_several_tenants(node: NodeHandle, redis: Redis) -> None:
    both = node.headers("lead-both", "lead", tenants=[STUTTGART, HEIDELBERG])
    r = node.client.post(f"{API}/cases", headers=both, json=CASE)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tenant"
    case = open_case(node, both, tenant=HEIDELBERG)
    assert (case["tenant"], case["manager"]) == (HEIDELBERG, "lead-both")
    event = eventually(lambda: case_events(redis))[0]
    assert (event.tenant, event.aggregate_id) == (HEIDELBERG, case["id"])


def test_listing_pages_by_keyset_and_filters(node: NodeHandle) -> None:
    as_m1, as_m2 = manager(node), manager(node, "m2")
    mine = [open_case(node, as_m1)["id"] for _ in range(5)]
    theirs = [open_case(node, as_m2)["id"] for _ in range(2)]
    open_case(node, manager(node, "m1", HEIDELBERG))
    node.client.post(f"{API}/cases/{mine[1]}/close", headers=as_m1, json={"reason": "moved_away"})

    def pages(as_: dict[str, str], query: str) -> list[list[str]]:
        out, cursor = [], ""
        while True:
            r = node.client.get(f"{API}/cases?{query}{cursor}", headers=as_)
            assert r.status_code == 200, r.text
            out.append([c["id"] for c in r.json()["items"]])
            if r.json()["next_cursor"] is None:
                return out
            cursor = f"&cursor={r.json()['next_cursor']}"

    assert pages(as_m1, "limit=2") == [mine[:2], mine[2:4], mine[4:]]
    assert pages(as_m1, "limit=5") == [mine]  # a full last page has no next cursor
    assert pages(as_m1, "status=closed") == [[mine[1]]]
    assert pages(as_m1, "status=open&limit=3") == [[mine[0], *mine[2:4]], [mine[4]]]
    assert pages(as_m2, "") == [theirs]
    assert pages(lead(node), "limit=200") == [sorted(mine + theirs)]
    assert pages(node.headers("nobody", "manager", tenants=[STUTTGART]), "") == [[]]
    assert len(pages(lead(node, HEIDELBERG), "")[0]) == 1
    for query, field in [("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"),
                         ("status=archived", "status"), ("cursor=abc", "cursor"),
                         (f"cursor={MB[:4000]}", "cursor")]:
        r = node.client.get(f"{API}/cases?{query}", headers=as_m1)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, query


# -- personal data never leaves the case database ---------------------------------------------
CANARIES = ("Zyxwvu-Canary", "Plokij-Canary", "1987-03-14", "14.03.1987", "Canary-Note-Qwerty")


def everything_in_redis(client: Redis) -> list[bytes]:
    """Every key and every value the server holds, whatever its type."""
    redis: Any = client  # redis-py's return types are unions of every decoding option
    found: list[bytes] = []
    for key in redis.scan_iter(count=1000):
        found.append(key)
        kind = redis.type(key)
        if kind == b"stream":
            for entry_id, fields in redis.xrange(key):
                found += [entry_id, *fields.keys(), *fields.values()]
        elif kind == b"string":
            found.append(redis.get(key) or b"")
        elif kind == b"hash":
            found += [b for kv in redis.hgetall(key).items() for b in kv]
        elif kind == b"list":
            found += redis.lrange(key, 0, -1)
        elif kind == b"set":
            found += list(redis.smembers(key))
        elif kind == b"zset":
            found += [m for m, _ in redis.zrange(key, 0, -1, withscores=True)]
    return found


def settled(redis: Redis) -> bool:
    """Every consumer group on every stream has read and acknowledged everything."""
    for key in redis.scan_iter(_type="stream"):
        for group in redis.xinfo_groups(key):
            if group["pending"] or group.get("lag"):
                return False
    return True


def test_canary_personal_data_reaches_no_stream_and_no_aof(
        valkey: EmbeddedServer, redis: Redis, start_node: Callable[..., NodeHandle]) -> None:
    # The whole node: every service's reaction to the case is on the bus too.
    node = start_node(*ALL_SERVICES)
    as_m1 = manager(node)
    case = open_case(node, as_m1, given_name="Zyxwvu-Canary", family_name="Plokij-Canary",
                     birth_date="1987-03-14", accommodation_since="2022-11-30")
    cid = case["id"]
    assert consult(node, cid, as_m1, note="Canary-Note-Qwerty").status_code == 201
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m1).status_code == 200
    assert node.client.post(f"{API}/cases/{cid}/close", headers=as_m1,
                            json={"reason": "transferred"}).status_code == 200
    eventually(lambda: len(case_events(redis)) == 4 and settled(redis))
    with node.node.contexts["cases"].database.session() as s:
        stored = s.get(Case, cid)
        assert stored is not None and stored.given_name == "Zyxwvu-Canary"  # it is kept here
        outbox = " ".join(s.exec(select(OutboxEvent.body)).all())
    held = b"\n".join(everything_in_redis(redis))
    assert cid.encode() in held and b"CaseClosed" in held  # the scan does see the events
    aof = b"\n".join(p.read_bytes() for p in valkey.data_dir.rglob("*") if p.is_file())
    assert cid.encode() in aof
    for canary in CANARIES:
        assert canary.encode() not in held, canary
        assert canary.encode() not in aof, canary
        assert canary not in outbox, canary


# -- authorisation ----------------------------------------------------------------------------
def test_authorisation_matrix(node: NodeHandle) -> None:
    as_m1 = manager(node)
    own = open_case(node, as_m1)["id"]
    colleague = open_case(node, manager(node, "m2"))["id"]
    heidelberg = open_case(node, manager(node, "m1", HEIDELBERG))["id"]

    def endpoints(cid: str) -> list[tuple[str, str, Any]]:
        return [("GET", f"/cases/{cid}", None),
                ("POST", f"/cases/{cid}/consultations", CONSULTATION),
                ("GET", f"/cases/{cid}/consultations", None),
                ("POST", f"/cases/{cid}/close", {"reason": "other"})]

    def call(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        return node.client.request(method, f"{API}{path}", json=body, headers=headers)

    before = counts(node)
    everything = [*endpoints(own), ("GET", f"/cases/{own}/audit", None),
                  ("POST", "/cases", CASE), ("GET", "/cases", None)]
    for method, path, body in everything:
        assert call(method, path, body, {}).status_code == 401, path
        assert call(method, path, body, {"Authorization": "Bearer nope"}).status_code == 401, path
        for role in ("node_admin", "funding_officer", "state_operator"):
            r = call(method, path, body, node.headers("u1", role, tenants=[STUTTGART]))
            assert r.status_code == 403, (role, path)
    # the role is checked before the body: no probing of validation without the right to write
    admin = node.headers("ops", "node_admin", tenants=[STUTTGART])
    assert call("POST", "/cases", {"household_size": "many"}, admin).status_code == 403
    # the audit trail is for the lead: a manager may not read it, not even for their own case
    assert call("GET", f"/cases/{own}/audit", None, as_m1).status_code == 403

    # a colleague's case and another tenant's case answer exactly like missing ones
    hidden = [(as_m1, colleague),
              (as_m1, heidelberg),  # m1 manages it, but this token acts for Stuttgart only
              (lead(node), heidelberg), (lead(node, HEIDELBERG), own)]
    for headers, cid in hidden:
        for method, path, body in endpoints(cid):
            mine = call(method, path, body, headers)
            gone = call(method, path.replace(cid, UNKNOWN), body, headers)
            assert mine.status_code == gone.status_code == 404, path
            assert mine.json() == gone.json() == {"detail": "case not found"}, path
    for headers, cid in hidden[2:]:
        assert call("GET", f"/cases/{cid}/audit", None, headers).status_code == 404
    assert counts(node) == before  # no case, consultation, event or audit row for a refusal

    # allowed: a manager on their own case, a lead on every case of their tenant(s)
    allowed = [(as_m1, own), (lead(node), colleague),
               (node.headers("l2", "lead", tenants=[STUTTGART, HEIDELBERG]), heidelberg)]
    for headers, cid in allowed:
        answers = [call(m, p, b, headers).status_code for m, p, b in endpoints(cid)]
        assert answers == [200, 201, 200, 200], cid
    # each consultation and its audit row; each first one also starts the clock (CounsellingPeriodSet)
    assert counts(node)[:3] == (before[0], before[1] + 3, before[2] + 9)
    assert call("GET", f"/cases/{heidelberg}", None,
                manager(node, "m1", HEIDELBERG)).status_code == 200
    assert call("GET", f"/cases/{colleague}/audit", None, lead(node)).status_code == 200


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(node: NodeHandle) -> None:
    as_m1 = manager(node)
    cid = open_case(node, as_m1)["id"]
    without = lambda body, key: {k: v for k, v in body.items() if k != key}  # noqa: E731
    eleven = [f"a{c}" for c in "bcdefghijkl"]
    cases: list[tuple[Any, str]] = [
        *[(without(CASE, key), key) for key in CASE],
        *[({**CASE, "given_name": v}, "given_name")
          for v in ("", "   ", "x" * 101, MB, 42, None, ["Amina"], "Ami\nna")],
        ({**CASE, "family_name": MB}, "family_name"), ({**CASE, "family_name": ""}, "family_name"),
        *[({**CASE, "birth_date": v}, "birth_date") for v in (
            TOMORROW.isoformat(), "1900-01-01", "1899-12-31", "1990-02-30", "yesterday",
            19900517, None, MB)],
        *[({**CASE, "nationality": v}, "nationality")
          for v in ("syr", "SY", "SYRIA", "S1R", 760, None, MB)],
        *[({**CASE, "languages": v}, "languages")
          for v in ("ar", None, ["ar", "ar"], eleven, {"ar": 1})],
        *[({**CASE, "languages": [v]}, "languages.0") for v in ("AR", "arab", "a", 1, MB)],
        *[({**CASE, "household_size": v}, "household_size")
          for v in (0, 31, -1, "4", 4.5, True, None, 10**30, MB)],
        *[({**CASE, "accommodation_since": v}, "accommodation_since")
          for v in ("1990-05-16", TOMORROW.isoformat(), "soon", MB)],
        *[({**CASE, "tenant": v}, "tenant") for v in ("0811100", "08222000", HEIDELBERG, MB)],
        *[({**CASE, key: "x"}, key) for key in ("manager", "status", "id", "note")],
    ]
    consultations: list[tuple[Any, str]] = [
        *[(without(CONSULTATION, key), key) for key in CONSULTATION if key != "note"],
        *[({**CONSULTATION, "duration_minutes": v}, "duration_minutes")
          for v in (0, 601, 10000, -5, "30", 30.5, True, None, MB)],
        *[({**CONSULTATION, "mode": v}, "mode") for v in ("email", "OFFICE", 3, None, MB)],
        *[({**CONSULTATION, "topics": v}, "topics")
          for v in ([], "work", None, ["work", "work"], ["work"] * 11)],
        *[({**CONSULTATION, "topics": ["work", v]}, "topics.1") for v in ("cooking", 1, MB)],
        *[({**CONSULTATION, "held_on": v}, "held_on") for v in (
            TOMORROW.isoformat(), "1999-12-31", "2025-13-01", 20250101, None, MB)],
        *[({**CONSULTATION, "note": v}, "note") for v in (MB, "x" * 4001, 42, ["x"])],
        *[({**CONSULTATION, key: "x"}, key) for key in ("manager", "case_id", "recorded_by")],
    ]
    closings: list[tuple[Any, str]] = [
        ({}, "reason"), ({"reason": "died"}, "reason"), ({"reason": 1}, "reason"),
        ({"reason": None}, "reason"), ({"reason": MB}, "reason"),
        ({"reason": "other", "closed_on": "2020-01-01"}, "closed_on"),
    ]
    requests = ([("/cases", b, f) for b, f in cases]
                + [(f"/cases/{cid}/consultations", b, f) for b, f in consultations]
                + [(f"/cases/{cid}/close", b, f) for b, f in closings])
    before = counts(node)
    for path, body, field in requests:
        r = node.client.post(f"{API}{path}", json=body, headers=as_m1)
        shown = body if MB not in json.dumps(body) else "1 MB"
        assert r.status_code == 422, (path, shown, r.text[:300])
        assert field in [d["field"] for d in r.json()["detail"]], (path, field, r.text[:300])
    for path in ("/cases", f"/cases/{cid}/consultations", f"/cases/{cid}/close"):
        for raw in (b"[1, 2]", b"{not json", b'"text"', b"", b"null"):
            r = node.client.post(f"{API}{path}", content=raw, headers={
                **as_m1, "Content-Type": "application/json"})
            assert r.status_code == 422, (path, raw)
    # unknown case ids with a valid body
    for method, path, body in [
        ("POST", f"/cases/{UNKNOWN}/consultations", CONSULTATION),
        ("POST", f"/cases/{MB[:4000]}/consultations", CONSULTATION),
        ("POST", f"/cases/{UNKNOWN}/close", {"reason": "other"}),
        ("GET", f"/cases/{UNKNOWN}", None), ("GET", f"/cases/{UNKNOWN}/consultations", None),
    ]:
        r = node.client.request(method, f"{API}{path}", json=body, headers=as_m1)
        assert r.status_code == 404 and r.json() == {"detail": "case not found"}, path[:80]
    assert counts(node) == before

    # the edges that are allowed: a newborn, stateless, no common language, today's visit
    edge = open_case(node, as_m1, birth_date=TODAY.isoformat(), nationality="XXX", languages=[],
                     household_size=30, accommodation_since=TODAY.isoformat())
    assert consult(node, edge["id"], as_m1, held_on=TODAY.isoformat(), duration_minutes=1,
                   topics=["health"], note="x" * 4000).status_code == 201


# -- the audit trail --------------------------------------------------------------------------
def test_every_access_is_audited_and_the_trail_is_append_only(node: NodeHandle) -> None:
    as_m1, as_lead = manager(node), lead(node)
    cid = open_case(node, as_m1)["id"]
    other = open_case(node, as_m1)["id"]
    node.client.get(f"{API}/cases/{cid}", headers=as_m1)
    node.client.get(f"{API}/cases?limit=1", headers=as_m1)  # shows only the first case
    consultation = consult(node, cid, as_m1).json()["id"]
    node.client.get(f"{API}/cases/{cid}/consultations", headers=as_lead)
    node.client.post(f"{API}/cases/{cid}/close", headers=as_m1, json={"reason": "other"})
    consult(node, cid, as_m1)  # refused (409): nothing happened, nothing is recorded

    r = node.client.get(f"{API}/cases/{cid}/audit", headers=as_lead)
    assert r.status_code == 200, r.text
    trail = r.json()["items"]
    assert [(e["action"], e["actor"], e["detail"]) for e in trail] == [
        ("open", "m1", None), ("read", "m1", None), ("list", "m1", None),
        ("record_consultation", "m1", consultation), ("read_consultations", "lead-08111000", None),
        ("close", "m1", "other"), ("read_audit", "lead-08111000", None)]
    assert all(e["case_id"] == cid and e["tenant"] == STUTTGART for e in trail)
    assert r.json()["next_cursor"] is None
    page = node.client.get(f"{API}/cases/{cid}/audit?limit=3", headers=as_lead).json()
    assert len(page["items"]) == 3 and page["next_cursor"] == page["items"][-1]["id"]
    rest = node.client.get(f"{API}/cases/{cid}/audit?cursor={page['next_cursor']}",
                           headers=as_lead).json()["items"]
    assert [e["action"] for e in rest][-2:] == ["read_audit", "read_audit"]
    assert [e["action"] for e in node.client.get(
        f"{API}/cases/{other}/audit", headers=as_lead).json()["items"]] == ["open", "read_audit"]

    # the database itself refuses to change or remove the trail
    db = node.node.contexts["cases"].database
    for statement in ("UPDATE cases_audit SET actor = 'someone-else'", "DELETE FROM cases_audit",
                      f"DELETE FROM cases_audit WHERE case_id = '{cid}'"):
        with db.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    with db.session() as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.case_id == cid)).all()
        assert len(rows) == 9 and {r.actor for r in rows} == {"m1", "lead-08111000"}


def test_the_audit_trail_is_append_only_on_postgresql(postgres_url: str) -> None:
    upgrade(history_for("cases", "municipal"), postgres_url)  # the schema production gets
    db = Database(postgres_url, TABLES)
    try:
        with db.session() as s:
            s.add(AuditEntry(actor="m1", action="read", case_id=UNKNOWN, tenant=STUTTGART))
            s.commit()
        for statement in ("UPDATE cases_audit SET actor = 'x'", "DELETE FROM cases_audit",
                          "TRUNCATE cases_audit"):
            with db.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM cases_audit")).scalars().all() == ["m1"]
    finally:
        db.dispose()
