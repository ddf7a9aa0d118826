"""The plan's audit trail on a real node: every route that reads or writes plan contents leaves a row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.plans.models import AuditEntry
from shared import clock
from shared.runtime.embedded import EmbeddedServer
from tests.integration.test_plans_service import API, CasesOutbox, add_goal, lead, manager, plan_for
from tests.nodes import STUTTGART, NodeHandle


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans")


@pytest.fixture
def cases(valkey: EmbeddedServer, tmp_path: Path) -> CasesOutbox:
    return CasesOutbox(tmp_path, valkey.url)


def trail(node: NodeHandle, case_id: str, as_: dict[str, str], **params: Any) -> Any:
    return node.client.get(f"{API}/audit", headers=as_, params={"case_id": case_id, **params})


def actions(node: NodeHandle, case_id: str) -> list[tuple[str, str, str | None]]:
    """The trail as the lead reads it: (actor, action, detail), the lead's own reading left out."""
    r = trail(node, case_id, lead(node))
    assert r.status_code == 200, r.text
    return [(e["actor"], e["action"], e["detail"]) for e in r.json()["items"]
            if e["action"] != "read_audit"]


def test_every_plan_route_is_in_the_trail_the_lead_reads(node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    case_id = opened.payload["case_id"]
    plan = plan_for(node, opened, as_m1)  # GET /plans?case_id= (perhaps more than once while it is made)
    pid = plan["id"]
    before = len(actions(node, case_id))
    assert before >= 1 and set(actions(node, case_id)) == {("m1", "read", None)}

    assert node.client.get(f"{API}/plans/{pid}", headers=as_m1).status_code == 200
    assert actions(node, case_id)[before:] == [("m1", "read", None)]

    goal = add_goal(node, pid, as_m1).json()
    assert actions(node, case_id)[before + 1:] == [("m1", "add_goal", goal["id"])]

    r = node.client.patch(f"{API}/plans/{pid}/goals/{goal['id']}", headers=as_m1, json={"title": "Neu"})
    assert r.status_code == 200
    assert actions(node, case_id)[before + 2:] == [("m1", "change_goal", goal["id"])]

    # the lead reads it too; each reading of the trail is itself in the trail
    assert node.client.get(f"{API}/plans/{pid}", headers=lead(node)).status_code == 200
    assert actions(node, case_id)[-1] == (f"lead-{STUTTGART}", "read", None)
    items = trail(node, case_id, lead(node)).json()["items"]
    assert [e["action"] for e in items].count("read_audit") >= 2
    assert all(e["case_id"] == case_id and e["plan_id"] == pid and e["tenant"] == STUTTGART for e in items)
    assert "Neu" not in str(items)  # what changed is the goal's id, never its text

    # pages by cursor
    first = trail(node, case_id, lead(node), limit=2).json()
    rest = trail(node, case_id, lead(node), cursor=first["next_cursor"]).json()
    assert [e["id"] for e in first["items"]] + [e["id"] for e in rest["items"]][:3] == \
        [e["id"] for e in items[:5]]


def test_only_the_lead_reads_the_trail_and_only_of_what_they_may_see(node: NodeHandle,
                                                                      cases: CasesOutbox) -> None:
    opened = cases.open("m1")
    case_id = opened.payload["case_id"]
    plan_for(node, opened, manager(node))
    assert trail(node, case_id, manager(node)).status_code == 403
    assert trail(node, case_id, node.headers("ops", "node_admin", tenants=[STUTTGART])).status_code == 403
    other = node.headers("lead-x", "lead", tenants=["08221000"])
    missing = trail(node, "no-such-case", lead(node))
    assert trail(node, case_id, other).status_code == missing.status_code == 404
    assert trail(node, case_id, other).json() == missing.json()
    for bad in ({"cursor": "10" * 20}, {"limit": 0}, {"cursor": -1}):
        r = trail(node, case_id, lead(node), **bad)
        assert r.status_code == 422, (bad, r.text)


def test_the_trail_refuses_update_and_delete_in_the_database(node: NodeHandle, cases: CasesOutbox) -> None:
    opened = cases.open("m1")
    plan_for(node, opened, manager(node))
    with node.node.contexts["plans"].database.session() as s:
        assert s.query(AuditEntry).count() >= 1
        for statement in ("UPDATE plans_audit SET actor = 'x'", "DELETE FROM plans_audit"):
            with pytest.raises(Exception, match="append-only"):
                s.execute(text(statement))
            s.rollback()


def test_steps_agreements_reviews_and_versions_are_in_the_trail(node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    case_id = opened.payload["case_id"]
    pid = plan_for(node, opened, as_m1)["id"]
    goal = add_goal(node, pid, as_m1).json()
    base = f"{API}/plans/{pid}"
    step = node.client.post(f"{base}/goals/{goal['id']}/steps", headers=as_m1,
                            json={"what": "Bewerbung", "who": "manager"}).json()
    calls = [
        ("PATCH", f"{base}/goals/{goal['id']}/steps/{step['id']}", {"status": "done"}, "change_step", step["id"]),
        ("POST", f"{base}/agreements", {"agreed_on": clock.today().isoformat(), "language": "fa",
                                        "signed_on_paper": False}, "agree", "1"),
        ("POST", f"{base}/reviews", {"reviewed_on": clock.today().isoformat()}, "record_review",
         clock.today().isoformat()),
        ("GET", f"{base}/versions", None, "read_versions", None),
        ("GET", f"{base}/versions/1", None, "read_version", "1"),
    ]
    for method, path, body, action, detail in calls:
        r = node.client.request(method, path, headers=as_m1, json=body)
        assert r.status_code in (200, 201), (path, r.text)
        assert actions(node, case_id)[-1] == ("m1", action, detail), path
    assert ("m1", "add_step", goal["id"]) in actions(node, case_id)


def test_the_new_routes_refuse_bad_input_and_strangers(node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    pid = plan_for(node, opened, as_m1)["id"]
    base = f"{API}/plans/{pid}"
    r = node.client.post(f"{base}/agreements", headers=as_m1,
                         json={"agreed_on": clock.today().isoformat(), "language": "ar", "signed_on_paper": True})
    assert r.status_code == 409 and "no goals" in r.text
    goal = add_goal(node, pid, as_m1).json()
    steps = f"{base}/goals/{goal['id']}/steps"
    for body, field in (({"what": "x", "who": "partner"}, "body"), ({"what": "x", "who": "boss"}, "who"),
                        ({"what": "x", "who": "partner", "partner_type": "Caritas"}, "partner_type"),
                        ({"what": "", "who": "client"}, "what"), ({"what": "x", "who": "client", "note": "y"}, "note")):
        r = node.client.post(steps, headers=as_m1, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [d["field"] for d in r.json()["detail"]], (body, r.text)
    step = node.client.post(steps, headers=as_m1, json={"what": "x", "who": "client"}).json()
    r = node.client.patch(f"{steps}/{step['id']}", headers=as_m1, json={"status": "accepted"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "status"
    for bad in (f"{base}/versions/0", f"{base}/versions/x", f"{base}/versions/{10**12}"):
        assert node.client.get(bad, headers=as_m1).status_code == 422
    stranger = manager(node, "m2")
    for method, path, body in (("GET", f"{base}/versions", None), ("POST", steps, {"what": "x", "who": "client"}),
                               ("PATCH", f"{steps}/{step['id']}", {"status": "done"}),
                               ("POST", f"{base}/reviews", {"reviewed_on": clock.today().isoformat()})):
        assert node.client.request(method, path, headers=stranger, json=body).status_code == 404, path


def test_the_lead_reads_the_municipalitys_referral_figures(node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    pid = plan_for(node, opened, as_m1)["id"]
    goal = add_goal(node, pid, as_m1).json()
    r = node.client.post(f"{API}/plans/{pid}/goals/{goal['id']}/steps", headers=as_m1,
                         json={"what": "Termin", "who": "partner", "partner_type": "jobcenter"})
    assert r.status_code == 201
    assert node.client.get(f"{API}/statistics/referrals", headers=as_m1).status_code == 403
    r = node.client.get(f"{API}/statistics/referrals?tenant={STUTTGART}", headers=lead(node))
    assert r.status_code == 200, r.text
    cell = next(c for c in r.json()["cells"] if (c["partner_type"], c["status"]) == ("jobcenter", "referred"))
    assert cell == {"partner_type": "jobcenter", "status": "referred", "count": None, "suppressed": True}
