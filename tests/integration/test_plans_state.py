"""The plans service at state level: the statewide goal table and goal statistics with small cells."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from redis import Redis
from sqlmodel import select

from services.plans.state.models import StateGoal
from shared.events import DEAD_LETTERS, STREAMS, Contract, Envelope
from shared.events.plans import PlanGoalAdded, PlanGoalStatusChanged
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

API = "/api/plans/v1"


def pseudonym(value: str) -> str:
    """Stands in for a municipal node's HMAC key."""
    return hashlib.sha256(value.encode()).hexdigest()


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans", level="state")


def inbound(redis: Redis, payload: Contract, *, node: str, tenant: str) -> Envelope:
    """An event as the federation link republishes it on the state bus: its state projection."""
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant, node=node,
                   aggregate_id=pseudonym(payload.plan_id),  # type: ignore[attr-defined]
                   scope=payload.scope, payload=payload.state_projection(pseudonym))
    redis.xadd(STREAMS["plans"], {"event": env.to_json()})
    return env


def added(goal: str, case: str, area: str, version: int) -> PlanGoalAdded:
    return PlanGoalAdded(plan_id=f"plan-{case}", case_id=case, goal_id=goal, manager="m1",
                         area=area, plan_version=version)  # type: ignore[arg-type]


def changed(goal: str, case: str, area: str, previous: str, status: str,
            version: int) -> PlanGoalStatusChanged:
    return PlanGoalStatusChanged(plan_id=f"plan-{case}", case_id=case, goal_id=goal,
                                 manager="m1", area=area, previous_status=previous,  # type: ignore[arg-type]
                                 status=status, plan_version=version)  # type: ignore[arg-type]


def settled(redis: Redis) -> bool:
    """The plans group has read and acknowledged everything on the plans stream."""
    groups = redis.xinfo_groups(STREAMS["plans"])
    group = next((g for g in groups if g["name"] == b"plans"), None)
    return group is not None and group["lag"] == 0 and group["pending"] == 0


def officer(state: NodeHandle, role: str = "state_operator") -> dict[str, str]:
    return state.headers(f"{role}-1", role)


def stats(state: NodeHandle, tenant: str | None = None) -> dict[str, Any]:
    query = f"?tenant={tenant}" if tenant else ""
    r = state.client.get(f"{API}/statistics/goals{query}", headers=officer(state))
    assert r.status_code == 200, r.text
    return r.json()


def shown(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's non-zero figures, keyed for comparison: count, or 'x' when suppressed."""
    value = lambda c: "x" if c["suppressed"] else c["count"]  # noqa: E731
    return {
        "cells": {(c["area"], c["status"]): value(c) for c in answer["cells"]
                  if c["suppressed"] or c["count"]},
        "by_area": {c["area"]: value(c) for c in answer["by_area"] if c["suppressed"] or c["count"]},
        "by_status": {c["status"]: value(c) for c in answer["by_status"]},
        "total": value(answer["total"]), "clients": value(answer["clients"]),
    }


# -- statistics -------------------------------------------------------------------------------
def test_goal_statistics_suppress_small_cells(state: NodeHandle, redis: Redis) -> None:
    a = lambda p: inbound(redis, p, node="node-a", tenant=STUTTGART)  # noqa: E731
    b = lambda p: inbound(redis, p, node="node-b", tenant=HEIDELBERG)  # noqa: E731
    n = iter(range(1000))

    def goal(send: Any, case: str, area: str, status: str = "open") -> None:
        gid = f"goal-{next(n)}"
        send(added(gid, case, area, 2))
        if status != "open":
            send(changed(gid, case, area, "open", status, 3))

    for i in range(4):
        goal(a, f"a{i + 1}", "work")
    for i in range(5):
        goal(a, f"a{i + 1}", "work", "in_progress")
        goal(a, f"a{i + 1}", "language")
    for case in ("a1", "a2"):
        goal(a, case, "language", "achieved")
    for case in ("b1", "b2"):
        goal(b, case, "work")
    for case in ("b1", "b2", "b3"):
        goal(b, case, "housing")
    for case in ("b1", "b2", "b3", "b1"):
        goal(b, case, "housing", "achieved")
    eventually(lambda: settled(redis))

    statewide = stats(state)
    assert statewide["tenant"] is None and statewide["min_cell"] == 5
    assert len(statewide["cells"]) == 10 * 4  # every area x status, zeros included
    assert shown(statewide) == {
        "cells": {("work", "open"): 6, ("work", "in_progress"): 5, ("language", "open"): 5,
                  ("language", "achieved"): "x", ("housing", "open"): "x",
                  ("housing", "achieved"): "x"},
        # language: 5 + a withheld 2 -> withheld too (secondary); housing: two withheld cells
        "by_area": {"work": 11, "language": "x", "housing": 7},
        # open: 6 + 5 + a withheld 3 -> withheld; achieved: two withheld cells -> shown
        "by_status": {"open": "x", "in_progress": 5, "achieved": 6, "dropped": 0},
        "total": "x",  # exactly one area total is withheld: the grand total would give it back
        "clients": 8,
    }
    cell = next(c for c in statewide["cells"] if c["area"] == "housing" and c["status"] == "open")
    assert cell == {"area": "housing", "status": "open", "count": None, "suppressed": True}
    zero = next(c for c in statewide["cells"] if c["area"] == "school")
    assert zero["count"] == 0 and zero["suppressed"] is False

    assert shown(stats(state, STUTTGART)) == {
        "cells": {("work", "open"): "x", ("work", "in_progress"): 5, ("language", "open"): 5,
                  ("language", "achieved"): "x"},
        "by_area": {"work": "x", "language": "x"},
        "by_status": {"open": "x", "in_progress": 5, "achieved": "x", "dropped": 0},
        "total": 16, "clients": 5,  # two withheld parts in every margin: the total reveals none
    }
    heidelberg = stats(state, HEIDELBERG)
    assert heidelberg["tenant"] == HEIDELBERG
    assert shown(heidelberg) == {
        "cells": {("work", "open"): "x", ("housing", "open"): "x", ("housing", "achieved"): "x"},
        "by_area": {"work": "x", "housing": 7},
        "by_status": {"open": 5, "in_progress": 0, "achieved": "x", "dropped": 0},
        "total": "x", "clients": "x",  # three distinct clients
    }
    nobody = stats(state, MANNHEIM)
    assert shown(nobody) == {"cells": {}, "by_area": {},
                             "by_status": {"open": 0, "in_progress": 0, "achieved": 0,
                                           "dropped": 0}, "total": 0, "clients": 0}
    assert redis.xlen(DEAD_LETTERS) == 0


def test_goal_events_out_of_order_and_older_versions(state: NodeHandle, redis: Redis) -> None:
    a = lambda p: inbound(redis, p, node="node-a", tenant=STUTTGART)  # noqa: E731
    # the change overtook its PlanGoalAdded: the row is created from the change
    a(changed("g1", "c1", "school", "open", "in_progress", 3))
    eventually(lambda: settled(redis))
    a(added("g1", "c1", "school", 2))  # older: ignored
    a(changed("g1", "c1", "school", "in_progress", "achieved", 5))
    a(changed("g1", "c1", "school", "in_progress", "dropped", 4))  # arrives late: ignored
    # the same goal id on another node is another goal (pseudonyms are per node)
    inbound(redis, added("g1", "c1", "school", 2), node="node-b", tenant=HEIDELBERG)
    eventually(lambda: settled(redis))

    with state.node.contexts["plans"].database.session() as s:
        rows = {r.node: r for r in s.exec(select(StateGoal)).all()}
    assert set(rows) == {"node-a", "node-b"}
    g = rows["node-a"]
    assert (g.tenant, g.area, g.status, g.plan_version) == (STUTTGART, "school", "achieved", 5)
    assert g.goal_pseudonym == pseudonym("g1") and g.case_pseudonym == pseudonym("c1")
    assert (rows["node-b"].status, rows["node-b"].tenant) == ("open", HEIDELBERG)
    figures = shown(stats(state))
    assert figures["cells"] == {("school", "achieved"): "x", ("school", "open"): "x"}
    assert figures["by_status"]["dropped"] == 0 and figures["by_status"]["in_progress"] == 0
    assert redis.xlen(DEAD_LETTERS) == 0


# -- authorisation and bad input --------------------------------------------------------------
def test_statistics_authorisation_and_bad_query(state: NodeHandle) -> None:
    url = f"{API}/statistics/goals"
    assert state.client.get(url).status_code == 401
    assert state.client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in ("manager", "lead", "node_admin"):
        assert state.client.get(url, headers=officer(state, role)).status_code == 403, role
    for role in ("state_operator", "funding_officer"):
        assert state.client.get(url, headers=officer(state, role)).status_code == 200, role
    for bad in ("0811100", "081110000", "abcdefgh", "08111000 ", "x" * 10_000):
        r = state.client.get(url, params={"tenant": bad}, headers=officer(state))
        assert r.status_code == 422, bad[:20]
        assert [d["field"] for d in r.json()["detail"]] == ["tenant"]
    # municipal plan endpoints are not mounted at state level
    r = state.client.get(f"{API}/plans", params={"case_id": "c1"}, headers=officer(state))
    assert r.status_code == 404


def test_state_roles_get_no_statistics_from_a_municipal_node(start_node: Callable[..., NodeHandle],
                                                       redis: Redis) -> None:
    node = start_node("plans")
    headers = node.headers("s1", "state_operator", tenants=[STUTTGART])
    # a municipal node serves its figures to its lead only (CONTRACT v2): a state role is refused
    assert node.client.get(f"{API}/statistics/goals", headers=headers).status_code == 403
    groups = {g["name"] for g in redis.xinfo_groups(STREAMS["cases"])}
    assert b"plans" in groups
