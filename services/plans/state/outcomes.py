"""The plans' outcomes at the state, per calendar year: the share of open cases with an agreed plan, goals
achieved and dropped by area, and the months from the first consultation to independence. Every count is read
from its statewide table, protected as a whole, so that no answer minus another recovers a small cell
(shared/disclosure.py)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from shared import clock
from shared.disclosure import MIN_CELL, Protected, protect
from shared.events.codes import CloseReason, GoalStatus, Topic

from .agreements import AgreedPlans, Figure, agreed_plans, counted_on, figure
from .models import StateCase, StateGoal

DAYS_PER_MONTH = 365.25 / 12
OUTCOMES = (GoalStatus.achieved, GoalStatus.dropped)


class GoalOutcomes(BaseModel):
    """Goals of one area whose status became achieved or dropped in the year (and still is)."""

    achieved: Figure
    dropped: Figure


class MonthsToIndependence(BaseModel):
    """Cases closed in the year with the reason `independent` (a first consultation known), and the median months
    from that consultation to the closure: null with a withheld count, or below MIN_CELL cases."""

    closed_independent: Figure
    median_months: float | None


class PlanOutcomes(BaseModel):
    """The plans' outcomes of one year, for one municipality (`tenant`) or statewide."""

    year: int
    tenant: str | None
    agreed_plans: AgreedPlans
    goals: dict[Topic, GoalOutcomes]
    months_to_independence: MonthsToIndependence
    min_cell: int = MIN_CELL


def goal_tables(session: Session, *, year: int, until: date) -> dict[tuple[Topic, GoalStatus], Protected[str]]:
    """Per area and outcome, the goals per municipality whose current status was set in the year (by `until`)."""
    g = StateGoal
    rows = session.exec(
        select(g.area, g.status, g.tenant, func.count())
        .where(col(g.status).in_(OUTCOMES), col(g.status_changed_on) >= date(year, 1, 1),
               col(g.status_changed_on) <= until)
        .group_by(g.area, g.status, g.tenant)).all()
    counts: dict[tuple[Topic, GoalStatus], dict[str, int]] = defaultdict(dict)
    for area, status, tenant, n in rows:
        counts[Topic(area), GoalStatus(status)][tenant] = n
    return {(area, status): protect(counts[area, status]) for area in Topic for status in OUTCOMES}


def months_to_independence(session: Session, *, year: int, tenant: str | None) -> MonthsToIndependence:
    """The year's cases closed as independent, per municipality protected, and the median of their months."""
    c = StateCase
    cases = session.exec(
        select(c).where(c.close_reason == CloseReason.independent, col(c.first_consulted_on).is_not(None),
                        col(c.closed_on) >= date(year, 1, 1), col(c.closed_on) <= date(year, 12, 31))).all()
    per_tenant: dict[str, int] = defaultdict(int)
    for case in cases:
        per_tenant[case.tenant] += 1
    count = figure(protect(per_tenant), tenant)
    months = [(k.closed_on - k.first_consulted_on).days / DAYS_PER_MONTH for k in cases  # type: ignore[operator]
              if tenant in (None, k.tenant)]
    median = round(statistics.median(months), 1) if count.count is not None and len(months) >= MIN_CELL else None
    return MonthsToIndependence(closed_independent=count, median_months=median)


def plan_outcomes(session: Session, *, year: int, tenant: str | None, today: date | None = None) -> PlanOutcomes:
    """One year's plan outcomes (by today in the current year) for a municipality or statewide."""
    today = today or clock.today()  # the day its events are dated by (consumers.day_of)
    until = counted_on(year, today)  # refuses a year before FIRST_YEAR or after this one
    goals = goal_tables(session, year=year, until=until)
    return PlanOutcomes(
        year=year, tenant=tenant,
        agreed_plans=agreed_plans(session, year=year, tenant=tenant, today=today),
        goals={area: GoalOutcomes(achieved=figure(goals[area, GoalStatus.achieved], tenant),
                                  dropped=figure(goals[area, GoalStatus.dropped], tenant)) for area in Topic},
        months_to_independence=months_to_independence(session, year=year, tenant=tenant))
