"""Erasure of a case's personal data (Art. 17 GDPR): on a lead's request with a reason, and by the retention
run once a closed case's retention has passed (LOTSE_RETENTION_CASE_YEARS after its closure).

What stays is what the figures count, none of it about the person: the case's codes and process dates
(opened, closed, the counselling clock), the household by relation only, each consultation's day, mode,
topics and minutes, and the audit trail's who-when-what without its details. Names, birth date,
nationality, languages, notes, consents, break-glass reasons and the search terms that found the case are
gone; the plans and notifications services erase their part when they consume CaseErased. The audit trail
and the search log are append-only: an erasure is the one change their triggers admit, through a permit row
that exists only inside the erasure's own transaction (shared/db.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import pydantic
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlmodel import Field, Session, SQLModel, col, select

from shared.clock import ZONE, today
from shared.db import Database, permitted, wipe_after_commit
from shared.errors import Conflict
from shared.events import utcnow
from shared.events.cases import CaseErased
from shared.ids import new_id
from shared.privacy import AGS_CODE, CODE, ID, PROCESS_DATE, TIMESTAMP, DataClass, Retention, personal
from shared.sealing import shred_after_commit, shred_erased

from . import break_glass, consents
from .models import (
    EARLIEST_BIRTH,
    AuditAction,
    AuditEntry,
    Case,
    CaseStatus,
    Consultation,
    ErasurePermit,
    SearchEntry,
)
from .service import _emit, audit

if TYPE_CHECKING:
    from shared.service import Background, ServiceContext

log = logging.getLogger(__name__)
REASON_MIN, REASON_MAX = 10, 500
RETENTION_ACTOR = "retention"  # who erased, for the retention run
SEARCH_DETAIL = "search "  # an audit row's pointer to the search log entry that showed the case


class Ground(StrEnum):
    """Why a case was erased."""

    request = "request"  # the client's request (Art. 17), carried out by a lead, with a reason
    retention = "retention"  # its retention after closure has passed (the node's deletion concept)
    handover = "handover"  # handed over to another municipality, which accepted it (services/cases/handover.py)


class Erasure(SQLModel, table=True):
    """The record that a case was erased: when, on what ground, by whom and why; nothing about the person."""

    __tablename__ = "cases_erasure"
    __not_personal__ = {"id": ID, "case_id": ID, "tenant": AGS_CODE, "ground": CODE, "erased_at": TIMESTAMP}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(unique=True, max_length=26, foreign_key="cases_case.id")
    tenant: str = Field(index=True, max_length=8)
    ground: Ground = Field(sa_type=sa.String(10))
    erased_by: str = personal(DataClass.staff, "who erased the case", Retention.staff, max_length=255)
    reason: str | None = personal(DataClass.access_log, "proving why a case was erased on request",
                                  Retention.access_log, default=None, max_length=REASON_MAX)
    erased_at: datetime = Field(default_factory=utcnow)


class ErasureRun(SQLModel, table=True):
    """One retention run: the cases closed before `closed_before` that were due, and how many it erased."""

    __tablename__ = "cases_erasure_run"
    __not_personal__ = {"started_at": TIMESTAMP, "finished_at": TIMESTAMP, "closed_before": PROCESS_DATE}

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None  # None: still running, or interrupted (the next run erases the rest)
    closed_before: date
    due: int = 0
    erased: int = 0


TABLES = [Erasure.__table__, ErasureRun.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class ErasureRequest(BaseModel):
    """Body of POST /cases/{id}/erase: why the client's data is erased now (Art. 17)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=REASON_MIN, max_length=REASON_MAX),
                      pydantic.Field(strict=True)]


class ErasurePublic(BaseModel):
    """An erasure as the lead sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    tenant: str
    ground: Ground
    erased_by: str
    reason: str | None
    erased_at: datetime


class ErasureRunPublic(BaseModel):
    """A retention run as the node shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    started_at: datetime
    finished_at: datetime | None
    closed_before: date
    due: int
    erased: int


class ErasureRuns(BaseModel):
    """The node's retention rule and its latest runs, newest first."""

    retention_years: int
    runs: list[ErasureRunPublic]


# -- erasure ----------------------------------------------------------------------------------
class CaseStillOpen(Conflict):
    """An open case is still being counselled: it is closed first, then erased."""


def erase_case(session: Session, *, case: Case, actor: str, ground: Ground, reason: str | None,
               node: str) -> Erasure:
    """Erase the case's personal data on this node, in the caller's transaction; CaseErased tells the others."""
    if case.erased_on is not None:
        raise Conflict(f"the case was erased on {case.erased_on.isoformat()}")
    if case.status == CaseStatus.open:
        raise CaseStillOpen("the case is open: close it first (its closing reason counts), then erase it")
    day = today()
    audit(session, actor=actor, action=AuditAction.erase, case=case, detail=ground)
    session.flush()
    searches = [int(detail.removeprefix(SEARCH_DETAIL)) for detail in session.exec(
        select(AuditEntry.detail).where(AuditEntry.case_id == case.id, AuditEntry.action == AuditAction.search))
        if detail and detail.startswith(SEARCH_DETAIL) and detail.removeprefix(SEARCH_DETAIL).isdigit()]
    # The case file keeps its codes and process dates; what names or describes the person goes.
    case.given_name = case.family_name = case.nationality = ""
    case.birth_date = EARLIEST_BIRTH  # a placeholder for a required column, shown nowhere (erased cases are not served)
    case.eligible_since = case.opened_on
    case.accommodation_since = case.extension_justification = None
    case.languages = []
    case.household_members = [{"relation": m.get("relation")} for m in case.household_members]
    case.erased_on = day
    case.updated_at = utcnow()
    session.add(case)
    session.execute(sa.update(Consultation).where(col(Consultation.case_id) == case.id).values(note=None))
    consents.erase(session, case_id=case.id)
    break_glass.erase(session, case_id=case.id)
    search_keys = list(session.exec(select(SearchEntry.subject).where(col(SearchEntry.id).in_(searches)))) \
        if searches else []
    with permitted(session, ErasurePermit):
        session.execute(sa.update(AuditEntry).where(col(AuditEntry.case_id) == case.id).values(detail=None))
        if searches:
            session.execute(sa.update(SearchEntry).where(col(SearchEntry.id).in_(searches)).values(term=""))
    erasure = Erasure(id=new_id(), case_id=case.id, tenant=case.tenant, ground=ground, erased_by=actor[:255],
                      reason=reason)
    session.add(erasure)
    _emit(session, case, CaseErased(case_id=case.id, manager=case.manager, erased_on=day), node)
    wipe_after_commit(session)  # the overwritten texts leave the file, too
    # and every copy of the sealed fields becomes unreadable, the terms of the searches that found it too
    shred_after_commit(session, [case.id, *search_keys])
    return erasure


def erasures(session: Session, *, tenants: set[str] | frozenset[str], limit: int) -> list[Erasure]:
    """The latest erasures in these municipalities, newest first."""
    if not tenants:
        return []
    return list(session.exec(select(Erasure).where(col(Erasure.tenant).in_(sorted(tenants)))
                             .order_by(col(Erasure.erased_at).desc(), col(Erasure.id).desc()).limit(limit)).all())


# -- the retention run ------------------------------------------------------------------------
def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def due_cases(session: Session, *, closed_before: date, tenants: list[str]) -> list[str]:
    """Ids of the closed, not yet erased cases of these municipalities closed before the day."""
    return list(session.exec(select(Case.id).where(
        Case.status == CaseStatus.closed, col(Case.closed_on) < closed_before, col(Case.erased_on).is_(None),
        col(Case.tenant).in_(tenants)).order_by(col(Case.id))).all())


def run_retention(db: Database, *, day: date, years: int, tenants: list[str], node: str) -> ErasureRun:
    """Erase every case whose retention has passed on `day`, each in a transaction of its own.

    The run's row counts each erasure in that erasure's transaction, so an interrupted run has counted
    exactly what it erased; the next run finds the rest due.
    """
    closed_before = years_before(day, years)
    with db.session() as session:
        due = due_cases(session, closed_before=closed_before, tenants=tenants)
        run = ErasureRun(closed_before=closed_before, due=len(due))
        session.add(run)
        session.commit()
        run_id = run.id
    for case_id in due:
        with db.session() as session:
            case = session.get(Case, case_id, with_for_update=True)
            current = session.get(ErasureRun, run_id)
            if case is None or case.erased_on is not None or current is None:
                continue  # erased meanwhile (on request)
            erase_case(session, case=case, actor=RETENTION_ACTOR, ground=Ground.retention, reason=None, node=node)
            current.erased += 1
            session.add(current)
            session.commit()
    with db.session() as session:
        finished = session.get(ErasureRun, run_id)
        assert finished is not None
        finished.finished_at = datetime.now(UTC)
        session.add(finished)
        session.commit()
        session.refresh(finished)
        if finished.erased:
            log.info("retention run erased %s of %s due cases (closed before %s)", finished.erased, finished.due,
                     closed_before.isoformat())
        return finished


def latest_runs(session: Session, *, limit: int) -> list[ErasureRun]:
    """The latest retention runs, newest first."""
    return list(session.exec(select(ErasureRun).order_by(col(ErasureRun.id).desc()).limit(limit)).all())


def ran_on(session: Session, day: date) -> bool:
    """Did a retention run finish on this calendar day (an interrupted one does not count)?"""
    start = datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC)
    return session.exec(select(ErasureRun.id).where(col(ErasureRun.finished_at).is_not(None),
                                                    col(ErasureRun.started_at) >= start)).first() is not None


def shred_leftovers(db: Database) -> int:
    """Destroy the keys of erased cases that outlived their erasure (a crash right after its commit)."""
    with db.session() as session:
        erased = list(session.exec(select(Case.id).where(col(Case.erased_on).is_not(None))).all())
    return shred_erased(db, erased)


def ran_today(db: Database, day: date) -> bool:
    with db.session() as session:
        return ran_on(session, day)


def background(ctx: ServiceContext) -> list[Background]:
    """The daily retention run: it runs when no run has finished today (so an interrupted one is followed up)."""
    db, settings = ctx.database, ctx.settings

    async def run() -> None:
        try:
            if shredded := await asyncio.to_thread(shred_leftovers, db):
                log.warning("destroyed the keys of %s erased cases left after an interrupted erasure", shredded)
        except Exception:
            log.exception("could not destroy the keys of erased cases; the next start tries again")
        while True:
            try:
                day = today()
                if not await asyncio.to_thread(ran_today, db, day):
                    await asyncio.to_thread(run_retention, db, day=day, years=settings.retention_case_years,
                                            tenants=list(settings.tenants), node=settings.node_id)
            except Exception:  # a failed run is retried on the next tick
                log.exception("retention run failed")
            await asyncio.sleep(settings.scheduler_interval_s)

    return [run]
