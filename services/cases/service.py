"""The cases domain: case files, consultations, closure, and the audit trail of every access."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from shared.bus import emit
from shared.errors import Conflict, NotFound
from shared.events import STREAMS, Contract, utcnow
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import CloseReason, Mode, Topic
from shared.ids import new_id

from .models import AuditAction, AuditEntry, Case, CaseStatus, Consultation
from .statistics import ConsultationStatistics, Tally, check_window


class CaseClosedConflict(Conflict):
    """The case is closed: nothing more can be recorded in it, nor can it be closed again."""


def _emit(session: Session, case: Case, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["cases"], tenant=case.tenant, node=node,
         aggregate_id=case.id)


def audit(session: Session, *, actor: str, action: AuditAction, case: Case,
          detail: str | None = None) -> None:
    """Add an audit row in the caller's transaction: it commits with the access it records."""
    session.add(AuditEntry(actor=actor[:255], action=action, case_id=case.id, tenant=case.tenant,
                           detail=detail))


# -- reads: each one leaves a row in the audit trail ------------------------------------------
def get_case(session: Session, *, case_id: str, for_update: bool = False) -> Case:
    """The case, locked for the transaction when it is about to change (not audited: a lookup)."""
    case = session.get(Case, case_id, with_for_update=for_update)
    if case is None:
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
    query = select(Case).where(col(Case.tenant).in_(sorted(tenants)))
    if manager is not None:
        query = query.where(Case.manager == manager)
    if status is not None:
        query = query.where(Case.status == status)
    if after is not None:
        query = query.where(Case.id > after)
    found = list(session.exec(query.order_by(col(Case.id)).limit(limit + 1)).all())
    page = found[:limit]
    for case in page:  # only the cases shown are audited, not the one that tells a next page exists
        audit(session, actor=actor, action=AuditAction.list, case=case)
    return page, page[-1].id if len(found) > limit else None


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
    accommodation_since: date, node: str,
) -> Case:
    """Open a case file in the manager's caseload and announce it (CaseOpened, no personal data)."""
    today = date.today()
    case = Case(id=new_id(), tenant=tenant, manager=manager[:255], status=CaseStatus.open,
                given_name=given_name, family_name=family_name, birth_date=birth_date,
                nationality=nationality, languages=list(languages),
                household_size=household_size, accommodation_since=accommodation_since,
                opened_on=today)
    session.add(case)
    audit(session, actor=manager, action=AuditAction.open, case=case)
    _emit(session, case, CaseOpened(case_id=case.id, manager=case.manager, opened_on=today,
                                    household_size=household_size), node)
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
    return consultation


def close_case(session: Session, *, case: Case, reason: CloseReason, actor: str,
               node: str) -> Case:
    """Close an open case with its reason (CaseClosed); a closed case cannot be closed again."""
    _still_open(case)
    today = date.today()
    case.status, case.closed_on, case.close_reason = CaseStatus.closed, today, reason
    case.updated_at = utcnow()
    session.add(case)
    audit(session, actor=actor, action=AuditAction.close, case=case, detail=reason)
    _emit(session, case, CaseClosed(case_id=case.id, manager=case.manager, closed_on=today,
                                    reason=reason), node)
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
    return tally.publish(tenant=tenant, from_=from_, to=to, distinct_clients=len(clients),
                         open_cases=[(tenant, still_open)])
