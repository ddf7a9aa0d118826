"""The cases domain: case files, consultations, closure, and the audit trail of every access."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from shared import clock
from shared.bus import emit
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import STREAMS, Contract, utcnow
from shared.events.cases import (
    CaseClosed,
    CaseOpened,
    CaseReassigned,
    ConsultationRecorded,
    CounsellingExtended,
    CounsellingPeriodSet,
)
from shared.events.codes import CloseReason, Eligibility, Mode, Topic
from shared.ids import new_id

from . import counselling
from .models import AuditAction, AuditEntry, Case, Caseload, CaseStatus, Consultation, HouseholdMember
from .search import caseload_query
from .statistics import ConsultationStatistics, Tally, check_window, small


class CaseClosedConflict(Conflict):
    """The case is closed: nothing more can be recorded in it, nor can it be closed again."""


def _emit(session: Session, case: Case, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["cases"], tenant=case.tenant, node=node,
         aggregate_id=case.id)


# Session.info: {case id: grant id} of the cases this request reaches through a break-glass grant.
STAND_IN = "lotse_break_glass"


def audit(session: Session, *, actor: str, action: AuditAction, case: Case,
          detail: str | None = None) -> None:
    """Add an audit row in the caller's transaction: it commits with the access it records."""
    # An access through a stand-in's break-glass grant carries the grant's id (break_glass.py).
    session.add(AuditEntry(actor=actor[:255], action=action, case_id=case.id, tenant=case.tenant,
                           detail=detail, break_glass=session.info.get(STAND_IN, {}).get(case.id)))


# -- reads: each one leaves a row in the audit trail ------------------------------------------
def get_case(session: Session, *, case_id: str, for_update: bool = False) -> Case:
    """The case, locked for the transaction when it is about to change (not audited: a lookup)."""
    case = session.get(Case, case_id, with_for_update=for_update)
    if case is None or case.erased_on is not None:  # an erased case's file no longer exists for anyone
        raise NotFound("case not found")
    return case


def read_case(session: Session, *, case: Case, actor: str) -> Case:
    """The case file as the actor reads it."""
    audit(session, actor=actor, action=AuditAction.read, case=case)
    return case


def list_cases(
    session: Session, *, tenants: Collection[str], manager: str | None,
    status: CaseStatus | None, after: str | None, limit: int, actor: str,
) -> tuple[list[Case], str | None]:
    """A page of these tenants' cases (of this manager's caseload), oldest first, and the next cursor."""
    if not tenants:
        return [], None
    found = list(session.exec(caseload_query(tenants=tenants, manager=manager, status=status, after=after,
                                             limit=limit)).all())
    page = found[:limit]
    for case in page:  # only the cases shown are audited, not the one that tells a next page exists
        audit(session, actor=actor, action=AuditAction.list, case=case)
    return page, page[-1].id if len(found) > limit else None


def caseloads(session: Session, *, tenants: Collection[str]) -> list[Caseload]:
    """Per manager of these tenants: how many open and closed cases they hold."""
    if not tenants:
        return []
    is_open = sa.case((col(Case.status) == CaseStatus.open, 1), else_=0)
    rows = session.execute(
        sa.select(col(Case.manager), func.sum(is_open), func.count())
        .where(col(Case.tenant).in_(sorted(tenants))).group_by(col(Case.manager)).order_by(col(Case.manager)))
    return [Caseload(manager=m, open_cases=int(o or 0), closed_cases=int(n) - int(o or 0)) for m, o, n in rows]


def consultations_of(session: Session, *, case: Case, actor: str) -> list[Consultation]:
    """The case's consultations in the order they were held."""
    query = (select(Consultation).where(Consultation.case_id == case.id)
             .order_by(col(Consultation.held_on), col(Consultation.id)))
    consultations = list(session.exec(query).all())
    audit(session, actor=actor, action=AuditAction.read_consultations, case=case)
    return consultations


def read_audit(session: Session, *, case: Case, actor: str, after: int | None,
               limit: int) -> tuple[list[AuditEntry], int | None]:
    """A page of the case's audit trail, oldest first, and the next cursor."""
    # Reading the trail is recorded too, before it is read: it shows its own reading.
    audit(session, actor=actor, action=AuditAction.read_audit, case=case)
    session.flush()
    query = select(AuditEntry).where(AuditEntry.case_id == case.id)
    if after is not None:
        query = query.where(col(AuditEntry.id) > after)
    rows = list(session.exec(query.order_by(col(AuditEntry.id)).limit(limit + 1)).all())
    page = rows[:limit]
    return page, page[-1].id if len(rows) > limit else None


# -- writes -----------------------------------------------------------------------------------
def open_case(
    session: Session, *, tenant: str, manager: str, given_name: str, family_name: str,
    birth_date: date, nationality: str, languages: list[str], household_size: int,
    accommodation_since: date | None, node: str,
    eligibility: Eligibility = Eligibility.follow_up_accommodation, eligible_since: date | None = None,
    household_members: Sequence[HouseholdMember] = (),
) -> Case:
    """Open an eligible client's case file in the manager's caseload (CaseOpened: codes and counts only)."""
    since = counselling.eligible_since(eligibility=eligibility, eligible_since=eligible_since,
                                       accommodation_since=accommodation_since)
    counselling.check_household(household_members, household_size)
    today = clock.today()
    case = Case(id=new_id(), tenant=tenant, manager=manager[:255], status=CaseStatus.open,
                given_name=given_name, family_name=family_name, birth_date=birth_date,
                nationality=nationality, languages=list(languages),
                household_size=household_size, accommodation_since=accommodation_since,
                household_members=[m.model_dump(mode="json") for m in household_members],
                eligibility=eligibility, eligible_since=since, opened_on=today)
    session.add(case)
    audit(session, actor=manager, action=AuditAction.open, case=case)
    _emit(session, case, CaseOpened(
        case_id=case.id, manager=case.manager, opened_on=today, household_size=household_size,
        eligibility=eligibility, household_members=Counter(m.relation for m in household_members)), node)
    return case


def _still_open(case: Case) -> None:
    if case.status == CaseStatus.closed:
        raise CaseClosedConflict(f"case is closed: closed on {case.closed_on} ({case.close_reason})")


def record_consultation(
    session: Session, *, case: Case, held_on: date, duration_minutes: int, mode: Mode,
    topics: list[Topic], note: str | None, actor: str, node: str,
) -> Consultation:
    """Record a consultation; ConsultationRecorded carries codes and minutes, never the note."""
    _still_open(case)
    ends = counselling.moved_clock(case, held_on)
    consultation = Consultation(
        id=new_id(), case_id=case.id, held_on=held_on, duration_minutes=duration_minutes,
        mode=mode, topics=list(topics), note=note, recorded_by=actor[:255])
    case.updated_at = utcnow()
    session.add_all([consultation, case])
    audit(session, actor=actor, action=AuditAction.record_consultation, case=case,
          detail=consultation.id)
    _emit(session, case, ConsultationRecorded(
        case_id=case.id, consultation_id=consultation.id, manager=case.manager, held_on=held_on,
        duration_minutes=duration_minutes, mode=mode, topics=topics), node)
    if ends is not None:  # the first consultation starts the clock (a back-dated one moves it)
        _announce_clock(session, case, node)
    return consultation


def _announce_clock(session: Session, case: Case, node: str) -> None:
    assert case.counselling_ends_on is not None
    _emit(session, case, CounsellingPeriodSet(
        case_id=case.id, manager=case.manager, ends_on=case.counselling_ends_on,
        extended=case.counselling_extended_on is not None), node)


def extend_counselling(session: Session, *, case: Case, justification: str, actor: str,
                       node: str) -> Case:
    """A lead extends the clock once, to four years; the justification stays in the case file."""
    _still_open(case)
    ends = counselling.extend(case, justification=justification, today=clock.today())
    case.updated_at = utcnow()
    session.add(case)
    audit(session, actor=actor, action=AuditAction.extend_counselling, case=case,
          detail=f"ends_on {ends.isoformat()}")
    _announce_clock(session, case, node)
    _emit(session, case, CounsellingExtended(case_id=case.id, extended_on=clock.today()), node)
    return case


def close_case(session: Session, *, case: Case, reason: CloseReason, actor: str,
               node: str) -> Case:
    """Close an open case with its reason (CaseClosed); a closed case cannot be closed again."""
    _still_open(case)
    today = clock.today()
    case.status, case.closed_on, case.close_reason = CaseStatus.closed, today, reason
    case.updated_at = utcnow()
    session.add(case)
    audit(session, actor=actor, action=AuditAction.close, case=case, detail=reason)
    _emit(session, case, CaseClosed(case_id=case.id, manager=case.manager, closed_on=today,
                                    reason=reason), node)
    return case


def change_case(session: Session, *, case: Case, changes: dict[str, Any], actor: str) -> Case:
    """Correct the client's personal data; the audit names the fields changed, never a value (no event)."""
    new = {name: value for name, value in changes.items() if getattr(case, name) != value}
    born = new.get("birth_date", case.birth_date)
    since = new.get("accommodation_since", case.accommodation_since)
    if "accommodation_since" in new or "birth_date" in new:
        if since is None and case.eligibility == Eligibility.follow_up_accommodation:
            raise InvalidInput("accommodation_since", "required when eligibility is follow_up_accommodation")
        if since is not None and since < born:
            raise InvalidInput("accommodation_since" if "accommodation_since" in new else "birth_date",
                               "accommodation_since must not be before birth_date")
    if "household_size" in new:
        counselling.check_household_size(case, new["household_size"])
    for name, value in new.items():
        setattr(case, name, list(value) if isinstance(value, list) else value)
    if new:
        case.updated_at = utcnow()
        session.add(case)
    audit(session, actor=actor, action=AuditAction.change, case=case,
          detail=("changed: " + ",".join(new))[:100] if new else "nothing changed")
    return case


def reassign(session: Session, *, case: Case, manager: str, actor: str, node: str) -> Case:
    """A lead hands an open case to another manager: it leaves one caseload for the other (CaseReassigned)."""
    _still_open(case)
    if manager == case.manager:
        raise InvalidInput("manager", "is already the case's manager")
    previous, today = case.manager, clock.today()
    case.manager, case.updated_at = manager, utcnow()
    session.add(case)
    audit(session, actor=actor, action=AuditAction.reassign, case=case, detail=f"{previous} -> {manager}"[:100])
    _emit(session, case, CaseReassigned(case_id=case.id, previous_manager=previous, manager=manager,
                                        reassigned_on=today), node)
    return case


# -- the lead's figures: aggregates, so not audited per case ---------------------------------
def consultation_statistics(session: Session, *, tenant: str, from_: date | None,
                            to: date | None) -> ConsultationStatistics:
    """The tenant's consultations by topic, mode and month, as the state counts them, small cells withheld."""
    check_window(from_, to)
    query = (sa.select(col(Consultation.case_id), col(Consultation.held_on), col(Consultation.mode),
                       col(Consultation.duration_minutes), col(Consultation.topics))
             .join(Case, col(Case.id) == col(Consultation.case_id)).where(col(Case.tenant) == tenant))
    if from_ is not None:
        query = query.where(col(Consultation.held_on) >= from_)
    if to is not None:
        query = query.where(col(Consultation.held_on) <= to)
    # Topics are a JSON list per row: counted here rather than in SQL (one municipality's rows).
    tally, clients = Tally(), set()
    for case_id, held_on, mode, minutes, topics in session.execute(query):
        tally.add(mode=mode, month=held_on.strftime("%Y-%m"), minutes=minutes)
        tally.add_topics(topics, minutes=minutes)
        clients.add(case_id)
    still_open = session.exec(select(func.count()).select_from(Case).where(
        Case.tenant == tenant, Case.status == CaseStatus.open)).one()
    answer = tally.publish(tenant=tenant, from_=from_, to=to, distinct_clients=len(clients),
                           open_cases=[(tenant, still_open)])
    # The household members counselled alongside, as the programme counts them (the annual figures).
    members = sum(len(m or []) for m in session.exec(
        select(Case.household_members).where(col(Case.id).in_(sorted(clients))))) if clients else 0
    answer.household_members_suppressed = small(members)
    answer.household_members = None if answer.household_members_suppressed else members
    return answer
