"""Open cases with an agreed plan, at the state: every node's cases (CaseOpened, their first ConsultationRecorded,
CaseClosed with its reason) and their plan's first agreement (PlanAgreed), known by pseudonyms, and the share on a
year's last day. Small counts are withheld so that no answer minus another recovers one (shared/disclosure.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel
from sqlalchemy import and_, or_, tuple_
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, func, select

from shared import clock
from shared.db import in_chunks
from shared.disclosure import MIN_CELL, Protected, protect
from shared.errors import InvalidInput
from shared.events import utcnow
from shared.events.codes import CloseReason

from .models import StateCase
from .service import check_pseudonyms

FIRST_YEAR = 2000


# -- the projection ---------------------------------------------------------------------------
def _case(session: Session, *, node: str, tenant: str, case_pseudonym: str) -> StateCase:
    """The node's case as the plans service at the state knows it, created on the first event about it."""
    check_pseudonyms(case_id=case_pseudonym)
    case = session.get(StateCase, (node, case_pseudonym), with_for_update=True)
    if case is None:
        case = StateCase(node=node, case_pseudonym=case_pseudonym, tenant=tenant)
        session.add(case)
        session.flush()  # a concurrent first event fails here, on the primary key, and retries
    return case


def note_case_opened(session: Session, *, node: str, tenant: str, case_pseudonym: str, opened_on: date) -> None:
    """Remember when a node's case was opened (its PlanAgreed or CaseClosed may have come first)."""
    case = _case(session, node=node, tenant=tenant, case_pseudonym=case_pseudonym)
    case.opened_on, case.updated_at = opened_on, utcnow()
    session.add(case)


def _note_earliest(session: Session, *, node: str, tenant: str, case_pseudonym: str, field: str, day: date) -> None:
    """Keep the earliest day the case's events tell for `field`, in whichever order they arrive."""
    case = _case(session, node=node, tenant=tenant, case_pseudonym=case_pseudonym)
    known = getattr(case, field)
    if known is None or day < known:
        setattr(case, field, day)
        case.updated_at = utcnow()
        session.add(case)


def note_consultations(session: Session, held: list[tuple[str, str, str, date]]) -> None:
    """A run of consultations, each (node, tenant, case pseudonym, day held): every case's earliest day, with one
    read of the run's cases (a catching-up state node meets thousands per second)."""
    earliest: dict[tuple[str, str], tuple[str, date]] = {}
    for node, tenant, case_pseudonym, day in held:
        check_pseudonyms(case_id=case_pseudonym)
        known = earliest.get((node, case_pseudonym))
        if known is None or day < known[1]:
            earliest[node, case_pseudonym] = (tenant, day)
    keys, cases = list(earliest), {}
    for chunk in in_chunks(keys):
        q = select(StateCase).where(tuple_(col(StateCase.node), col(StateCase.case_pseudonym)).in_(chunk))
        cases.update({(c.node, c.case_pseudonym): c for c in session.exec(q.with_for_update())})
    now = utcnow()
    for (node, case_pseudonym), (tenant, day) in earliest.items():
        case = cases.get((node, case_pseudonym))
        if case is None:
            case = StateCase(node=node, case_pseudonym=case_pseudonym, tenant=tenant)
            session.add(case)
        if case.first_consulted_on is None or day < case.first_consulted_on:
            case.first_consulted_on, case.updated_at = day, now
    session.flush()  # a concurrent first event fails here, on the primary key, and the batch is retried


def note_case_closed(session: Session, *, node: str, tenant: str, case_pseudonym: str, closed_on: date,
                     reason: CloseReason) -> None:
    """Remember when and why a node's case was closed: from that day on it no longer counts as open."""
    case = _case(session, node=node, tenant=tenant, case_pseudonym=case_pseudonym)
    case.closed_on, case.close_reason, case.updated_at = closed_on, reason, utcnow()
    session.add(case)


def note_plan_agreed(session: Session, *, node: str, tenant: str, case_pseudonym: str, agreed_on: date) -> None:
    """Remember the day the case's plan was first agreed; a later version's agreement keeps that day."""
    _note_earliest(session, node=node, tenant=tenant, case_pseudonym=case_pseudonym, field="agreed_on", day=agreed_on)


# -- the answer -------------------------------------------------------------------------------
class Figure(BaseModel):
    """A count, or null where it is withheld."""

    count: int | None
    withheld: bool


class AgreedPlans(BaseModel):
    """Open cases on the day counted and those of them whose plan the client agreed to, for one municipality
    (`tenant`) or statewide; `share_percent` is null where either count is withheld or no case is open."""

    year: int
    tenant: str | None
    counted_on: date  # the year's last day, or today in the current year
    open_cases: Figure
    with_agreed_plan: Figure
    share_percent: float | None
    min_cell: int = MIN_CELL


def counted_on(year: int, today: date) -> date:
    """The day a year's figures describe: its last day, or today while it runs."""
    if not FIRST_YEAR <= year <= today.year:
        raise InvalidInput("year", f"must be a calendar year from {FIRST_YEAR} to {today.year}")
    return today if year == today.year else date(year, 12, 31)


def counts_on(session: Session, day: date) -> dict[str, tuple[int, int]]:
    """Per municipality: the cases open at the end of `day`, and those of them with a plan agreed by then."""
    c = StateCase
    is_open = and_(col(c.opened_on) <= day, or_(col(c.closed_on).is_(None), col(c.closed_on) > day))
    agreed = and_(is_open, col(c.agreed_on) <= day)
    rows = session.exec(select(c.tenant, func.count(sql_case((is_open, 1))), func.count(sql_case((agreed, 1))))
                        .group_by(c.tenant)).all()
    return {tenant: (n_open, n_agreed) for tenant, n_open, n_agreed in rows}


def protect_shares(counts: Mapping[str, tuple[int, int]]) -> tuple[Protected[str], Protected[str]]:
    """The open cases and those with an agreed plan per municipality, as they may be published.

    A municipality's open cases are those with an agreed plan plus those without. The ones without are
    protected as a table of their own, and an open count is shown only where both its parts are, so open
    minus agreed is never a small count. Statewide minus the shown figures gives the hidden municipalities'
    cases without a plan together: those withheld in their table (5 or more) plus ones shown there (0 or 5
    or more each), so never a small count either.
    """
    agreed = protect({t: a for t, (_, a) in counts.items()})
    without = protect({t: o - a for t, (o, a) in counts.items()})
    hidden = {t for t in counts if agreed.cells[t] is None or without.cells[t] is None}
    total = None if agreed.total is None or without.total is None else sum(o for o, _ in counts.values())
    return Protected({t: None if t in hidden else o for t, (o, _) in counts.items()}, total), agreed


def figure(table: Protected[str], tenant: str | None) -> Figure:
    count = table.total if tenant is None else table.cell(tenant)
    return Figure(count=count, withheld=count is None)


def agreed_plans(session: Session, *, year: int, tenant: str | None, today: date | None = None) -> AgreedPlans:
    """The share of open cases with an agreed plan in a year; both counts read from their protected tables."""
    day = counted_on(year, today or clock.today())
    opened, agreed = protect_shares(counts_on(session, day))
    n_open, n_agreed = figure(opened, tenant), figure(agreed, tenant)
    share = (round(100 * n_agreed.count / n_open.count, 1)
             if n_open.count and n_agreed.count is not None else None)
    return AgreedPlans(year=year, tenant=tenant, counted_on=day, open_cases=n_open, with_agreed_plan=n_agreed,
                       share_percent=share)
