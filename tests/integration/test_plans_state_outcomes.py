"""The plans' outcomes at the state (`/statistics/outcomes`): agreed plans, goals achieved and dropped in a year by
area, the months from the first consultation to independence; small counts withheld, none recoverable by
subtracting answers, bad queries refused naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from redis import Redis

from shared import clock
from shared.disclosure import small
from shared.events import DEAD_LETTERS, Contract, Envelope, utcnow
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import CloseReason, GoalStatus, Mode, Topic
from shared.events.plans import PlanAgreed, PlanGoalAdded, PlanGoalStatusChanged
from tests.integration.test_plans_state_agreements import settled
from tests.integration.test_web_statewide import HOSTS, pseudonym
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

API = "/api/plans/v1/statistics/outcomes"
YEAR = clock.today().year - 1
TENANTS = (STUTTGART, HEIDELBERG, MANNHEIM)


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans", level="state")


def answer(state: NodeHandle, year: int, tenant: str | None = None, path: str = API) -> dict[str, Any]:
    params: dict[str, Any] = {"year": year} | ({"tenant": tenant} if tenant else {})
    r = state.client.get(path, params=params, headers=state.headers("s1", "state_operator"))
    assert r.status_code == 200, r.text
    return r.json()


def send(redis: Redis, payload: Contract, tenant: str, aggregate: str, at: datetime | None = None) -> None:
    """An event as the federation link republishes it on the state bus, having happened `at` (now) on its node."""
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant, node=HOSTS[tenant],
                   scope=payload.scope, aggregate_id=pseudonym(aggregate), payload=payload.state_projection(pseudonym),
                   occurred_at=at or utcnow())
    redis.xadd(payload.stream, {"event": env.to_json()})


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def goal(redis: Redis, tenant: str, name: str, area: Topic, *changes: tuple[GoalStatus, datetime],
         added: datetime | None = None, late_added: bool = False) -> None:
    """A goal added (at `added`), then its status changes (plan versions 2, 3, ...); `late_added`: the goal's
    PlanGoalAdded arrives after its changes."""
    plan, case = f"plan-{name}", f"case-{name}"
    first: tuple[Contract, datetime] = (
        PlanGoalAdded(plan_id=plan, case_id=case, goal_id=name, manager="m1", area=area, plan_version=1),
        added or noon(date(YEAR - 1, 6, 1)))
    events: list[tuple[Contract, datetime]] = [
        (PlanGoalStatusChanged(plan_id=plan, case_id=case, goal_id=name, manager="m1", area=area,
                               previous_status=GoalStatus.open, status=status, plan_version=v), at)
        for v, (status, at) in enumerate(changes, start=2)]
    for payload, at in [*events, first] if late_added else [first, *events]:
        send(redis, payload, tenant, f"plan-{name}", at)


def independent(redis: Redis, tenant: str, name: str, days: int, *, closed: date = date(YEAR, 7, 1),
                reason: CloseReason = CloseReason.independent, consulted: bool = True) -> None:
    """A case closed on `closed` whose first consultation was `days` before (and a later one, arriving first)."""
    if consulted:
        for held in (closed - timedelta(days=days // 2), closed - timedelta(days=days)):
            send(redis, ConsultationRecorded(case_id=name, manager="m1", held_on=held, duration_minutes=30,
                                             mode=Mode.office, topics=[Topic.work]), tenant, name)
    send(redis, CaseClosed(case_id=name, manager="m1", closed_on=closed, reason=reason), tenant, name)


def cells(state: NodeHandle, year: int) -> dict[str, dict[str | None, int | None]]:
    """Every count of the answers, by its place in the document: per municipality (by AGS) and statewide (None)."""
    found: dict[str, dict[str | None, int | None]] = {}

    def walk(node: Any, place: str, tenant: str | None) -> None:
        if isinstance(node, dict) and "withheld" in node:
            assert node["withheld"] == (node["count"] is None), node
            found.setdefault(place, {})[tenant] = node["count"]
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{place}/{key}", tenant)

    for tenant in (*TENANTS, None):
        walk(answer(state, year, tenant), "", tenant)
    return found


def assert_unrecoverable(found: dict[str, dict[str | None, int | None]]) -> None:
    """No count shown is small, and statewide minus the shown municipalities is never one small one."""
    for place, by_tenant in found.items():
        assert not any(v is not None and small(v) for v in by_tenant.values()), (place, by_tenant)
        statewide, withheld = by_tenant[None], [t for t in TENANTS if by_tenant[t] is None]
        if statewide is not None and withheld:
            rest = statewide - sum(by_tenant[t] or 0 for t in TENANTS)
            assert len(withheld) > 1 and not small(rest), (place, by_tenant)


def test_a_years_outcomes_with_small_counts_withheld(state: NodeHandle, redis: Redis) -> None:
    in_year, last_day = noon(date(YEAR, 3, 15)), datetime(YEAR, 12, 31, 23, 30, tzinfo=UTC)  # 1 January in Berlin
    for i in range(7):  # language: Stuttgart 7 achieved in the year, Heidelberg 3, Mannheim 5
        goal(redis, STUTTGART, f"s-lang-{i}", Topic.language, (GoalStatus.achieved, in_year))
    goal(redis, STUTTGART, "s-lang-before", Topic.language, (GoalStatus.achieved, noon(date(YEAR - 1, 9, 1))))
    goal(redis, STUTTGART, "s-lang-reopened", Topic.language, (GoalStatus.achieved, in_year),
         (GoalStatus.in_progress, noon(date(YEAR, 5, 1))))
    goal(redis, STUTTGART, "s-lang-new-year", Topic.language, (GoalStatus.achieved, last_day))
    goal(redis, STUTTGART, "s-lang-open", Topic.language, added=in_year)
    for i in range(3):
        goal(redis, HEIDELBERG, f"h-lang-{i}", Topic.language, (GoalStatus.achieved, in_year))
    for i in range(5):
        goal(redis, MANNHEIM, f"m-lang-{i}", Topic.language, (GoalStatus.in_progress, noon(date(YEAR - 1, 7, 1))),
             (GoalStatus.achieved, in_year))
    for i in range(5):  # work: Stuttgart 5 dropped, two of them seen before they were added
        goal(redis, STUTTGART, f"s-work-{i}", Topic.work, (GoalStatus.dropped, in_year), late_added=i < 2)
    for i in range(2):  # housing: 2 achieved statewide, withheld everywhere
        goal(redis, STUTTGART, f"s-housing-{i}", Topic.housing, (GoalStatus.achieved, in_year))
    # cases closed as independent in the year, days from the first consultation: Stuttgart 6, Heidelberg 2, Mannheim 5
    for i, days in enumerate((61, 122, 183, 244, 305, 366)):
        independent(redis, STUTTGART, f"s-case-{i}", days)
    for i, days in enumerate((30, 45)):
        independent(redis, HEIDELBERG, f"h-case-{i}", days)
    for i, days in enumerate((400, 500, 600, 700, 800)):
        independent(redis, MANNHEIM, f"m-case-{i}", days)
    independent(redis, STUTTGART, "s-moved", 90, reason=CloseReason.moved_away)
    independent(redis, STUTTGART, "s-never-consulted", 90, consulted=False)
    independent(redis, STUTTGART, "s-closed-before", 90, closed=date(YEAR - 1, 11, 1))
    for i in range(10):  # Stuttgart: 10 cases open at the year's end, 5 with an agreed plan
        send(redis, CaseOpened(case_id=f"s-open-{i}", manager="m1", opened_on=date(YEAR, 2, 1), household_size=1),
             STUTTGART, f"s-open-{i}")
        if i < 5:
            send(redis, PlanAgreed(plan_id=f"plan-s-open-{i}", case_id=f"s-open-{i}", manager="m1", plan_version=1,
                                   agreed_on=date(YEAR, 4, 1)), STUTTGART, f"plan-s-open-{i}")
    eventually(lambda: settled(redis), timeout=30)
    assert redis.xlen(DEAD_LETTERS) == 0

    statewide, stuttgart = answer(state, YEAR), answer(state, YEAR, STUTTGART)
    assert (statewide["year"], statewide["tenant"], statewide["min_cell"]) == (YEAR, None, 5)
    assert set(statewide["goals"]) == set(Topic) and stuttgart["tenant"] == STUTTGART
    shown = lambda f: "x" if f["withheld"] else f["count"]  # noqa: E731
    goals = lambda a, area: (shown(a["goals"][area]["achieved"]), shown(a["goals"][area]["dropped"]))  # noqa: E731
    assert goals(statewide, "language") == (15, 0) and goals(stuttgart, "language") == (7, 0)
    assert goals(answer(state, YEAR, HEIDELBERG), "language") == ("x", 0)  # 3, and Mannheim's 5 with them
    assert goals(answer(state, YEAR, MANNHEIM), "language") == ("x", 0)
    assert goals(statewide, "work") == goals(stuttgart, "work") == (0, 5)
    assert goals(statewide, "housing") == goals(stuttgart, "housing") == ("x", 0)
    assert goals(statewide, "school") == (0, 0)
    # the goal achieved before the year counts in its own year, the one of New Year's Eve night in the next
    assert goals(answer(state, YEAR - 1, STUTTGART), "language") == goals(answer(state, YEAR - 1), "language") == (
        "x", 0)  # 1: withheld, statewide too
    assert goals(answer(state, YEAR + 1), "language") == ("x", 0)

    time = lambda a: (shown(a["months_to_independence"]["closed_independent"]),  # noqa: E731
                      a["months_to_independence"]["median_months"])
    assert time(statewide) == (13, 10.0)  # the 7th of 13: 305 days
    assert time(stuttgart) == (6, 7.0)  # between 183 and 244 days
    assert time(answer(state, YEAR, HEIDELBERG)) == time(answer(state, YEAR, MANNHEIM)) == ("x", None)
    assert time(answer(state, YEAR - 1)) == ("x", None)  # the one closed the year before

    for tenant in (*TENANTS, None):  # the agreed plans are /statistics/agreements' answer
        assert answer(state, YEAR, tenant)["agreed_plans"] == answer(
            state, YEAR, tenant, "/api/plans/v1/statistics/agreements")
    plans = stuttgart["agreed_plans"]
    assert (plans["open_cases"]["count"], plans["with_agreed_plan"]["count"], plans["share_percent"]) == (10, 5, 50.0)
    for year in (YEAR - 1, YEAR, YEAR + 1):
        assert_unrecoverable(cells(state, year))


def test_bad_queries_and_callers(state: NodeHandle) -> None:
    operator = state.headers("s1", "state_operator")
    assert state.client.get(API, params={"year": YEAR}).status_code == 401
    for role in ("manager", "lead", "node_admin"):
        assert state.client.get(API, params={"year": YEAR}, headers=state.headers("x", role)).status_code == 403
    officer = state.headers("f", "funding_officer")
    assert state.client.get(API, params={"year": YEAR}, headers=officer).status_code == 200
    for bad in ({"year": clock.today().year + 1}, {"year": 1999}, {"year": "zwanzig"}, {"year": 10**30}, {}):
        r = state.client.get(API, params=bad, headers=operator)
        assert r.status_code == 422, bad
        assert [d["field"] for d in r.json()["detail"]] == ["year"], r.text
    for tenant in ("0811100", "Stuttgart", "081110000"):
        r = state.client.get(API, params={"year": YEAR, "tenant": tenant}, headers=operator)
        assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == ["tenant"], r.text
