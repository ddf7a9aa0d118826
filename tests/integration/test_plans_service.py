"""The plans service on a real node: plans born from case events, goals, access, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import func
from sqlmodel import select

from services.plans.models import Goal, Plan, years_ahead
from shared import clock
from shared.bus import BUS_TABLES, InboxEntry, OutboxEvent, OutboxRelay, emit
from shared.db import Database
from shared.events import DEAD_LETTERS, STREAMS, Contract, Envelope, new_event_id
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import CloseReason, Mode, Topic
from shared.runtime.embedded import EmbeddedServer
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

API = "/api/plans/v1"
TODAY = clock.today()
MB = "x" * 60_000  # past every field's limit, within the 64 KB body limit (past it: 413, test_hardening_bodies)
UNKNOWN = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
TITLE = "Ausbildung zur Pflegefachkraft beginnen"


class CasesOutbox:
    """Stands in for the cases service: its events go through a real outbox and relay."""

    def __init__(self, tmp: Path, redis_url: str) -> None:
        self.db = Database(f"sqlite:///{tmp / 'cases-outbox.db'}", BUS_TABLES)
        self.db.create_all()
        self.redis_url = redis_url

    def send(self, payload: Contract, tenant: str = STUTTGART) -> Envelope:
        with self.db.session() as s:
            env = emit(s, payload, stream=STREAMS["cases"], tenant=tenant, node="test-node",
                       aggregate_id=payload.case_id)  # type: ignore[attr-defined]
            s.commit()
        asyncio.run(self._relay())
        return env

    async def _relay(self) -> None:
        redis = AsyncRedis.from_url(self.redis_url)
        try:
            assert await OutboxRelay(self.db, redis, service="cases").run_once() == 1
        finally:
            await redis.aclose()

    def open(self, manager: str = "m1", tenant: str = STUTTGART, case_id: str = "") -> Envelope:
        return self.send(CaseOpened(case_id=case_id or new_event_id(), manager=manager,
                                    opened_on=TODAY, household_size=3), tenant)

    def consult(self, case_id: str, held_on: date, tenant: str = STUTTGART) -> Envelope:
        return self.send(ConsultationRecorded(
            case_id=case_id, consultation_id=new_event_id(), manager="m1", held_on=held_on,
            duration_minutes=45, mode=Mode.outreach, topics=[Topic.work, Topic.language]), tenant)

    def close(self, case_id: str, tenant: str = STUTTGART) -> Envelope:
        return self.send(CaseClosed(case_id=case_id, manager="m1", closed_on=TODAY,
                                    reason=CloseReason.independent), tenant)


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans")


@pytest.fixture
def cases(valkey: EmbeddedServer, tmp_path: Path) -> CasesOutbox:
    return CasesOutbox(tmp_path, valkey.url)


def manager(node: NodeHandle, sub: str = "m1", tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(sub, "manager", tenants=[tenant])


def lead(node: NodeHandle, tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(f"lead-{tenant}", "lead", tenants=[tenant])


def plan_for(node: NodeHandle, opened: Envelope, as_: dict[str, str]) -> dict[str, Any]:
    """The plan of an opened case, once the plans service has seen the case."""
    url = f"{API}/plans?case_id={opened.payload['case_id']}"
    return eventually(lambda: (r := node.client.get(url, headers=as_)).status_code == 200
                      and r.json())


def get_plan(node: NodeHandle, plan_id: str, as_: dict[str, str]) -> dict[str, Any]:
    r = node.client.get(f"{API}/plans/{plan_id}", headers=as_)
    assert r.status_code == 200, r.text
    return r.json()


def add_goal(node: NodeHandle, plan_id: str, as_: dict[str, str], **body: Any) -> Any:
    return node.client.post(f"{API}/plans/{plan_id}/goals", headers=as_,
                            json={"area": "work", "title": TITLE, **body})


def set_status(node: NodeHandle, plan_id: str, goal_id: str, as_: dict[str, str],
               status: Any) -> Any:
    return node.client.patch(f"{API}/plans/{plan_id}/goals/{goal_id}", headers=as_,
                             json={"status": status})


def counts(node: NodeHandle) -> tuple[int, int, int, int]:
    """Plans, goals, the sum of plan versions and outbox rows: what a refusal must leave alone."""
    with node.node.contexts["plans"].database.session() as s:
        plans, versions = s.exec(select(func.count(), func.coalesce(func.sum(Plan.version),
                                                                    0))).one()
        goals = s.exec(select(func.count()).select_from(Goal)).one()
        outbox = s.exec(select(func.count()).select_from(OutboxEvent)).one()
    return plans, goals, versions, outbox


def plans_events(redis: Redis) -> list[Envelope]:
    return [Envelope.model_validate_json(f[b"event"]) for _, f in redis.xrange(STREAMS["plans"])]


def inbox(node: NodeHandle) -> set[str]:
    with node.node.contexts["plans"].database.session() as s:
        return set(s.exec(select(InboxEntry.event_id).where(InboxEntry.group == "plans")).all())


def cases_settled(redis: Redis) -> bool:
    """The plans group has read and acknowledged everything on the cases stream."""
    group = next(g for g in redis.xinfo_groups(STREAMS["cases"]) if g["name"] == b"plans")
    return group["lag"] == 0 and group["pending"] == 0


# -- happy path and events --------------------------------------------------------------------
def test_plan_lifecycle_from_case_events(node: NodeHandle, redis: Redis,
                                         cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    case_id = opened.payload["case_id"]
    plan = plan_for(node, opened, as_m1)
    pid = plan["id"]
    assert plan == {"id": pid, "case_id": case_id, "tenant": STUTTGART, "manager": "m1",
                    "status": "draft", "version": 1, "last_contact_on": None, "closed_on": None,
                    "agreement_version": 1, "agreed_version": None, "review_on": None,
                    "created_at": plan["created_at"], "updated_at": plan["updated_at"],
                    "goals": []}
    assert get_plan(node, pid, as_m1) == plan

    # the first goal makes the draft active
    target = date(TODAY.year + 1, 6, 30)
    r = add_goal(node, pid, as_m1, target_date=target.isoformat())
    assert r.status_code == 201, r.text
    work = r.json()
    assert work == {"id": work["id"], "plan_id": pid, "area": "work", "title": TITLE,
                    "target_date": target.isoformat(), "status": "open",
                    "created_at": work["created_at"], "updated_at": work["updated_at"], "steps": [],
                    "plan_version": 2}
    r = add_goal(node, pid, as_m1, area="language", title="  Deutschkurs B1 abschließen  ")
    assert r.status_code == 201
    language = r.json()
    assert (language["title"], language["target_date"], language["plan_version"]) == (
        "Deutschkurs B1 abschließen", None, 3)

    r = set_status(node, pid, work["id"], as_m1, "in_progress")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["plan_version"]) == ("in_progress", 4)
    outbox_before = counts(node)[3]
    again = set_status(node, pid, work["id"], as_m1, "in_progress")  # no-op: no bump, no event
    assert again.status_code == 200 and again.json() == r.json()
    assert counts(node)[3] == outbox_before
    shown = get_plan(node, pid, as_m1)
    assert (shown["status"], shown["version"]) == ("active", 4)
    assert [(g["id"], g["status"]) for g in shown["goals"]] == [
        (work["id"], "in_progress"), (language["id"], "open")]

    # what went onto the bus: thin, no titles
    events = eventually(lambda: (e := plans_events(redis)) and len(e) == 3 and e)
    assert [e.type for e in events] == ["PlanGoalAdded", "PlanGoalAdded", "PlanGoalStatusChanged"]
    assert all(e.tenant == STUTTGART and e.aggregate_id == pid and e.node == "test-node"
               and e.scope == "up" for e in events)
    assert events[0].payload == {"plan_id": pid, "case_id": case_id, "goal_id": work["id"],
                                 "manager": "m1", "area": "work",
                                 "target_date": target.isoformat(), "plan_version": 2}
    assert events[1].payload["target_date"] is None and events[1].payload["plan_version"] == 3
    assert events[2].payload == {"plan_id": pid, "case_id": case_id, "goal_id": work["id"],
                                 "manager": "m1", "area": "work", "previous_status": "open",
                                 "status": "in_progress", "plan_version": 4}
    raw = json.dumps([e.model_dump(mode="json") for e in events])
    assert "Pflegefachkraft" not in raw and "Deutschkurs" not in raw and '"title"' not in raw

    # consultations move the last contact forward only, and never the version
    cases.consult(case_id, date(2026, 10, 5))
    eventually(lambda: get_plan(node, pid, as_m1)["last_contact_on"] == "2026-10-05")
    earlier = cases.consult(case_id, date(2026, 9, 1))
    eventually(lambda: earlier.event_id in inbox(node))
    shown = get_plan(node, pid, as_m1)
    assert (shown["last_contact_on"], shown["version"]) == ("2026-10-05", 4)

    # the same CaseOpened delivered again, and a second CaseOpened for the case: no effect
    redis.xadd(STREAMS["cases"], {"event": opened.to_json()})
    second = cases.open("m2", case_id=case_id)
    eventually(lambda: second.event_id in inbox(node) and cases_settled(redis))
    assert get_plan(node, pid, as_m1) == shown
    assert counts(node)[:3] == (1, 2, 4)

    # closing the case closes the plan: goals stay readable, goal changes are refused
    cases.close(case_id)
    closed = eventually(lambda: (p := get_plan(node, pid, as_m1))["status"] == "closed" and p)
    assert (closed["version"], closed["closed_on"], closed["goals"]) == (
        5, TODAY.isoformat(), shown["goals"])
    before = counts(node)
    r = add_goal(node, pid, as_m1)
    assert r.status_code == 409 and r.json()["detail"].startswith("plan is closed")
    assert set_status(node, pid, work["id"], as_m1, "achieved").status_code == 409
    assert set_status(node, pid, work["id"], as_m1, "in_progress").status_code == 409
    assert counts(node) == before
    assert len(plans_events(redis)) == 3
    assert redis.xlen(DEAD_LETTERS) == 0


def test_status_changes_go_any_way_and_each_counts(node: NodeHandle, redis: Redis,
                                                   cases: CasesOutbox) -> None:
    as_lead = lead(node, HEIDELBERG)
    plan = plan_for(node, cases.open("m7", HEIDELBERG), as_lead)
    goal = add_goal(node, plan["id"], as_lead, area="housing").json()
    for version, status in enumerate(["achieved", "open", "dropped", "in_progress"], start=3):
        r = set_status(node, plan["id"], goal["id"], as_lead, status)
        assert (r.status_code, r.json()["status"], r.json()["plan_version"]) == (
            200, status, version)
    events = eventually(lambda: (e := plans_events(redis)) and len(e) == 5 and e)
    assert [(e.payload.get("previous_status"), e.payload.get("status")) for e in events[1:]] == [
        ("open", "achieved"), ("achieved", "open"), ("open", "dropped"),
        ("dropped", "in_progress")]
    assert all(e.tenant == HEIDELBERG and e.payload["manager"] == "m7" for e in events)


def test_a_goals_title_and_target_date_change_without_leaving_the_plans_database(
        node: NodeHandle, redis: Redis, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    plan = plan_for(node, cases.open("m1"), as_m1)
    goal = add_goal(node, plan["id"], as_m1, target_date="2027-06-30").json()
    path = f"{API}/plans/{plan['id']}/goals/{goal['id']}"
    r = node.client.patch(path, headers=as_m1, json={"title": "  Pflegeausbildung  ",
                                                     "target_date": "2028-01-31"})
    assert (r.status_code, r.json()["title"], r.json()["target_date"], r.json()["status"],
            r.json()["plan_version"]) == (200, "Pflegeausbildung", "2028-01-31", "open", 3)
    r = node.client.patch(path, headers=as_m1, json={"title": "Pflegeausbildung"})
    assert (r.status_code, r.json()["plan_version"]) == (200, 3)  # nothing changed
    r = node.client.patch(path, headers=as_m1, json={"target_date": None, "status": "in_progress"})
    assert (r.json()["target_date"], r.json()["status"], r.json()["plan_version"]) == (
        None, "in_progress", 4)
    shown = get_plan(node, plan["id"], as_m1)
    assert (shown["version"], shown["goals"][0]["title"]) == (4, "Pflegeausbildung")
    events = eventually(lambda: (e := plans_events(redis)) and len(e) == 4 and e)
    assert [e.type for e in events] == ["PlanGoalAdded", "PlanGoalRescheduled", "PlanGoalRescheduled",
                                        "PlanGoalStatusChanged"]
    assert [e.payload["target_date"] for e in events[1:3]] == ["2028-01-31", None]
    assert all("Pflege" not in e.model_dump_json() for e in events)


def test_case_events_out_of_order_and_for_other_tenants(node: NodeHandle, redis: Redis,
                                                        cases: CasesOutbox) -> None:
    case_id = new_event_id()
    # the consultation arrives before its case: refused, retried by the bus after reclaim
    early = cases.consult(case_id, date(2026, 11, 2))
    eventually(lambda: redis.xpending(STREAMS["cases"], "plans")["pending"] == 1)
    assert early.event_id not in inbox(node)
    opened = cases.open("m1", case_id=case_id)
    plan = plan_for(node, opened, manager(node))
    eventually(lambda: get_plan(node, plan["id"], manager(node))["last_contact_on"] == "2026-11-02")
    assert get_plan(node, plan["id"], manager(node))["version"] == 1
    # a closure for the same case id in another tenant does not touch this plan (not ours)
    foreign = cases.close(case_id, MANNHEIM)
    foreign_open = cases.open("m1", MANNHEIM)
    eventually(lambda: {foreign.event_id, foreign_open.event_id} <= inbox(node)
               and cases_settled(redis))
    assert get_plan(node, plan["id"], manager(node))["status"] == "draft"
    assert counts(node)[:3] == (1, 0, 1)
    assert redis.xlen(DEAD_LETTERS) == 0


# -- authorisation ----------------------------------------------------------------------------
def test_authorisation_matrix(node: NodeHandle, cases: CasesOutbox) -> None:
    own = plan_for(node, cases.open("m1"), lead(node))
    colleague = plan_for(node, cases.open("m2"), lead(node))
    heidelberg = plan_for(node, cases.open("m1", HEIDELBERG), lead(node, HEIDELBERG))
    goal = add_goal(node, own["id"], lead(node)).json()
    colleague_goal = add_goal(node, colleague["id"], lead(node)).json()
    hd_goal = add_goal(node, heidelberg["id"], lead(node, HEIDELBERG)).json()

    def endpoints(plan: dict[str, Any], goal_id: str) -> list[tuple[str, str, Any]]:
        return [("GET", f"/plans?case_id={plan['case_id']}", None),
                ("GET", f"/plans/{plan['id']}", None),
                ("POST", f"/plans/{plan['id']}/goals", {"area": "school", "title": "Schule"}),
                ("PATCH", f"/plans/{plan['id']}/goals/{goal_id}", {"status": "achieved"})]

    def call(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        return node.client.request(method, f"{API}{path}", json=body, headers=headers)

    def missing(method: str, path: str, body: Any) -> tuple[str, str, Any]:
        for real in (own, colleague, heidelberg):
            path = path.replace(real["id"], UNKNOWN).replace(real["case_id"], UNKNOWN)
        return method, path, body

    before = counts(node)
    for method, path, body in endpoints(own, goal["id"]):
        assert call(method, path, body, {}).status_code == 401, path
        assert call(method, path, body, {"Authorization": "Bearer nope"}).status_code == 401, path
        for role in ("node_admin", "funding_officer", "state_operator"):
            r = call(method, path, body, node.headers("u1", role, tenants=[STUTTGART]))
            assert r.status_code == 403, (role, path)
    # the role is checked before the body: no probing of validation without the right to write
    admin = node.headers("ops", "node_admin", tenants=[STUTTGART])
    assert call("POST", f"/plans/{own['id']}/goals", {"area": 5}, admin).status_code == 403

    # a manager's colleague's plan, and another tenant's plan, answer exactly like missing ones
    m1 = manager(node)
    hidden = [(m1, colleague, colleague_goal["id"]),
              (m1, heidelberg, hd_goal["id"]),  # m1 manages it, but m1 acts for Stuttgart only
              (lead(node), heidelberg, hd_goal["id"]),
              (lead(node, HEIDELBERG), own, goal["id"])]
    for headers, plan, goal_id in hidden:
        for method, path, body in endpoints(plan, goal_id):
            mine, gone = call(method, path, body, headers), call(*missing(method, path, body),
                                                                 headers)
            assert mine.status_code == gone.status_code == 404, path
            assert mine.json() == gone.json(), path
    assert counts(node) == before

    # allowed: a manager on their own plan, a lead on every plan of their tenant(s)
    allowed = [(m1, own, goal["id"]), (lead(node), colleague, colleague_goal["id"]),
               (node.headers("l2", "lead", tenants=[STUTTGART, HEIDELBERG]), heidelberg,
                hd_goal["id"])]
    for headers, plan, goal_id in allowed:
        answers = [call(m, p, b, headers).status_code for m, p, b in endpoints(plan, goal_id)]
        assert answers == [200, 200, 201, 200], plan["manager"]
    assert counts(node)[1:3] == (before[1] + 3, before[2] + 6)
    # a manager in Heidelberg with the same name sees the Heidelberg plan
    assert call("GET", f"/plans/{heidelberg['id']}", None,
                manager(node, "m1", HEIDELBERG)).status_code == 200


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
        node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    plan = plan_for(node, cases.open("m1"), as_m1)
    pid = plan["id"]
    goal = add_goal(node, pid, as_m1).json()
    other_plan = plan_for(node, cases.open("m1"), as_m1)
    other_goal = add_goal(node, other_plan["id"], as_m1).json()
    ok = {"area": "work", "title": TITLE}
    without = lambda key: {k: v for k, v in ok.items() if k != key}  # noqa: E731
    too_late = years_ahead(TODAY, 10).toordinal() + 1
    goals: list[tuple[Any, str]] = [
        (without("area"), "area"), (without("title"), "title"),
        ({**ok, "area": "cooking"}, "area"), ({**ok, "area": 3}, "area"),
        ({**ok, "area": None}, "area"), ({**ok, "area": ["work"]}, "area"),
        ({**ok, "area": MB}, "area"),
        ({**ok, "title": ""}, "title"), ({**ok, "title": "   "}, "title"),
        ({**ok, "title": "x" * 201}, "title"), ({**ok, "title": MB}, "title"),
        ({**ok, "title": 42}, "title"), ({**ok, "title": None}, "title"),
        ({**ok, "title": {"de": "x"}}, "title"),
        ({**ok, "target_date": "1999-12-31"}, "target_date"),
        ({**ok, "target_date": date.fromordinal(too_late).isoformat()}, "target_date"),
        ({**ok, "target_date": "9999-12-31"}, "target_date"),
        ({**ok, "target_date": "2027-02-30"}, "target_date"),
        ({**ok, "target_date": "soon"}, "target_date"),
        ({**ok, "target_date": 20270101}, "target_date"),
        ({**ok, "target_date": MB}, "target_date"),
        ({**ok, "status": "achieved"}, "status"), ({**ok, "plan_version": 1}, "plan_version"),
        ({**ok, "note": MB}, "note"),
    ]
    patches: list[tuple[Any, str]] = [
        ({}, "body"), ({"status": "done"}, "status"), ({"status": "OPEN"}, "status"),
        ({"status": 1}, "status"), ({"status": None}, "status"), ({"status": MB}, "status"),
        ({"status": ["open"]}, "status"),
        ({"status": "achieved", "title": ""}, "title"), ({"title": None}, "title"),
        ({"title": "   "}, "title"), ({"title": "x" * 201}, "title"), ({"title": 42}, "title"),
        ({"title": "ok", "target_date": "1999-12-31"}, "target_date"),
        ({"target_date": date.fromordinal(too_late).isoformat()}, "target_date"),
        ({"target_date": "2027-02-30"}, "target_date"), ({"target_date": MB}, "target_date"),
        ({"status": "achieved", "area": "housing"}, "area"),
        ({"status": "achieved", "plan_version": 9}, "plan_version"),
    ]
    requests = ([("POST", f"/plans/{pid}/goals", b, f) for b, f in goals]
                + [("PATCH", f"/plans/{pid}/goals/{goal['id']}", b, f) for b, f in patches])
    before = counts(node)
    for method, path, body, field in requests:
        r = node.client.request(method, f"{API}{path}", json=body, headers=as_m1)
        shown = body if MB not in json.dumps(body) else "1 MB"
        # A body above the route's limit may be refused before it is read (413 naming the body).
        fields = [d["field"] for d in r.json()["detail"]]
        if shown is not body and r.status_code == 413:
            assert fields == ["body"], (path, r.text[:300])
            continue
        assert r.status_code == 422, (path, shown, r.text[:300])
        assert field in fields, (path, field, r.text[:300])
    for method, path, _, _ in requests[:1] + requests[-1:]:
        for raw in (b"[1, 2]", b"{not json", b'"text"', b""):
            r = node.client.request(method, f"{API}{path}", content=raw, headers={
                **as_m1, "Content-Type": "application/json"})
            assert r.status_code == 422, (method, raw)
    r = node.client.get(f"{API}/plans", headers=as_m1)
    assert r.status_code == 422 and "case_id" in r.json()["detail"][0]["field"]
    r = node.client.get(f"{API}/plans?case_id={MB[:4000]}", headers=as_m1)
    assert r.status_code == 422 and "case_id" in r.json()["detail"][0]["field"]

    # unknown ids with a valid body, and a goal of another plan
    for method, path, body in [
        ("POST", f"/plans/{UNKNOWN}/goals", ok), ("POST", f"/plans/{MB[:4000]}/goals", ok),
        ("PATCH", f"/plans/{UNKNOWN}/goals/{goal['id']}", {"status": "achieved"}),
        ("PATCH", f"/plans/{pid}/goals/{UNKNOWN}", {"status": "achieved"}),
        ("PATCH", f"/plans/{pid}/goals/{other_goal['id']}", {"status": "achieved"}),
        ("GET", f"/plans/{UNKNOWN}", None), ("GET", f"/plans?case_id={UNKNOWN}", None),
    ]:
        r = node.client.request(method, f"{API}{path}", json=body, headers=as_m1)
        assert r.status_code == 404, (method, path[:80], r.text[:200])
        assert r.json()["detail"] in ("plan not found", "goal not found", "no plan for this case")
    assert counts(node) == before
    assert get_plan(node, pid, as_m1)["version"] == 2
    assert get_plan(node, other_plan["id"], as_m1)["goals"][0]["status"] == "open"
