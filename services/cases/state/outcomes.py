"""Case outcomes at the state, per calendar year: time to independence, counselling periods that ran out,
cases opened by eligibility and the household members counselled alongside. Small cells withheld so that
no answer minus another recovers one (shared/disclosure.py)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from shared import clock
from shared.disclosure import MIN_CELL, Protected, protect
from shared.errors import InvalidInput
from shared.events.codes import CloseReason, Eligibility

from ..counselling import EXTENDED_YEARS, YEARS, years_after
from .models import StateCase, StateConsultation

DAYS_PER_MONTH = 365.25 / 12
FIRST_YEAR = 2000


class Figure(BaseModel):
    """A count, or null where it is withheld."""

    count: int | None
    withheld: bool


class TimeToIndependence(BaseModel):
    """Cases closed in the year with the reason `independent`, and the median months from their first consultation."""

    closed_independent: Figure
    median_months: float | None  # withheld with the count, or when it is below MIN_CELL


class CaseOutcomes(BaseModel):
    """The case-side outcomes of one year, for one municipality (`tenant`) or statewide."""

    year: int
    tenant: str | None
    time_to_independence: TimeToIndependence
    counselling_period_ended: Figure  # the period (3 years, 4 if extended) ended in the year, case still open then
    opened_by_eligibility: dict[Eligibility, Figure]
    household_members_opened: Figure  # members counselled alongside, of the cases opened in the year
    min_cell: int = MIN_CELL


@dataclass(frozen=True)
class Known:
    """A node's case as the state knows it, with its first consultation."""

    tenant: str
    first: date | None
    opened_on: date | None
    closed_on: date | None
    reason: CloseReason | None
    extended: bool
    eligibility: Eligibility | None
    members: int


def _cases(session: Session) -> list[Known]:
    c, s = StateConsultation, StateCase
    firsts = dict(((node, client), first) for node, client, first in session.exec(
        select(c.node, c.client, func.min(c.held_on)).group_by(c.node, c.client)).all())
    return [Known(r.tenant, firsts.get((r.node, r.client)), r.opened_on, r.closed_on, r.close_reason,
                  r.counselling_extended_on is not None, r.eligibility, r.household_members)
            for r in session.exec(select(s).order_by(col(s.node), col(s.client))).all()]


def _per_tenant(cases: Iterable[Known], value: Callable[[Known], int]) -> Protected[str]:
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[case.tenant] += value(case)
    return protect(counts)


def _figure(table: Protected[str], tenant: str | None) -> Figure:
    count = table.total if tenant is None else table.cell(tenant)
    return Figure(count=count, withheld=count is None)


def period_ended_in(case: Known, year: int, today: date) -> bool:
    """The counselling period ran out in the year (by today), the case still open on its last day."""
    if case.first is None:
        return False
    ends = years_after(case.first, EXTENDED_YEARS if case.extended else YEARS)
    return ends.year == year and ends <= today and (case.closed_on is None or case.closed_on >= ends)


def case_outcomes(session: Session, *, year: int, tenant: str | None, today: date | None = None) -> CaseOutcomes:
    """One year's case outcomes; every figure is read from its statewide table, protected as a whole."""
    today = today or clock.today()
    if not FIRST_YEAR <= year <= today.year:
        raise InvalidInput("year", f"must be a calendar year from {FIRST_YEAR} to {today.year}")
    cases = _cases(session)
    independent = [k for k in cases if k.reason == CloseReason.independent and k.first is not None
                   and k.closed_on is not None and k.closed_on.year == year]
    closed = _per_tenant(independent, lambda _: 1)
    count = _figure(closed, tenant)
    months = [(k.closed_on - k.first).days / DAYS_PER_MONTH for k in independent  # type: ignore[operator]
              if tenant is None or k.tenant == tenant]
    median = round(statistics.median(months), 1) if count.count is not None and len(months) >= MIN_CELL else None
    opened = [k for k in cases if k.opened_on is not None and k.opened_on.year == year]
    return CaseOutcomes(
        year=year, tenant=tenant,
        time_to_independence=TimeToIndependence(closed_independent=count, median_months=median),
        counselling_period_ended=_figure(_per_tenant(cases, lambda k: int(period_ended_in(k, year, today))), tenant),
        opened_by_eligibility={e: _figure(_per_tenant([k for k in opened if k.eligibility == e], lambda _: 1), tenant)
                               for e in Eligibility},
        household_members_opened=_figure(_per_tenant(opened, lambda k: k.members), tenant))
