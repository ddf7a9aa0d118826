"""The cases domain: case files, consultations, closure, and the audit trail of every access."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlmodel import Session, col, select
from ulid import ULID

from shared.bus import emit
from shared.events import STREAMS, Contract, utcnow
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import CloseReason, Mode, Topic

from .models import AuditAction, CasesAudit, CasesCase, CasesConsultation


class NotFound(Exception):
    """No such object (or not one the caller may see)."""


class Conflict(Exception):
    """The request is valid but the case's state does not allow it; the message says why."""


def new_id() -> str:
    """A time-ordered id for a new record (keyset pagination relies on the order)."""
    return str(ULID())


def _emit(session: Session, case: CasesCase, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["cases"], tenant=case.tenant, node=node,
         aggregate_id=case.id)


def audit(session: Session, *, actor: str, action: AuditAction, case: CasesCase,
          detail: str | None = None) -> None:
    """Add an audit row in the caller's transaction: it commits with the access it records."""
    session.add(CasesAudit(actor=actor[:255], action=action, case_id=case.id, tenant=case.tenant,
                           detail=detail))


# -- reads ------------------------------------------------------------------------------------
def get_case(session: Session, *, case_id: str, for_update: bool = False) -> CasesCase:
    """The case, locked for the transaction when it is about to change."""
    case = session.get(CasesCase, case_id, with_for_update=for_update)
    if case is None:
        raise NotFound("case not found")
    return case


def list_cases(
    session: Session, *, tenants: Collection[str], manager: str | None, status: str | None,
    after: str | None, limit: int,
) -> list[CasesCase]:
    """Up to `limit` cases of these tenants (and this manager's caseload), oldest first."""
    if not tenants:
        return []
    query = select(CasesCase).where(col(CasesCase.tenant).in_(sorted(tenants)))
    if manager is not None:
        query = query.where(CasesCase.manager == manager)
    if status is not None:
        query = query.where(CasesCase.status == status)
    if after is not None:
        query = query.where(CasesCase.id > after)
    return list(session.exec(query.order_by(col(CasesCase.id)).limit(limit)).all())


def consultations_of(session: Session, *, case_id: str) -> list[CasesConsultation]:
    """The case's consultations in the order they were held."""
    query = (select(CasesConsultation).where(CasesConsultation.case_id == case_id)
             .order_by(col(CasesConsultation.held_on), col(CasesConsultation.id)))
    return list(session.exec(query).all())


def audit_trail(session: Session, *, case_id: str, after: int | None,
                limit: int) -> list[CasesAudit]:
    """Up to `limit` audit rows of the case, oldest first."""
    query = select(CasesAudit).where(CasesAudit.case_id == case_id)
    if after is not None:
        query = query.where(col(CasesAudit.id) > after)
    return list(session.exec(query.order_by(col(CasesAudit.id)).limit(limit)).all())


# -- writes -----------------------------------------------------------------------------------
def open_case(
    session: Session, *, tenant: str, manager: str, given_name: str, family_name: str,
    birth_date: date, nationality: str, languages: list[str], household_size: int,
    accommodation_since: date, node: str,
) -> CasesCase:
    """Open a case file in the manager's caseload and announce it (CaseOpened, no personal data)."""
    today = date.today()
    case = CasesCase(id=new_id(), tenant=tenant, manager=manager[:255], status="open",
                     given_name=given_name, family_name=family_name, birth_date=birth_date,
                     nationality=nationality, languages=list(languages),
                     household_size=household_size, accommodation_since=accommodation_since,
                     opened_on=today)
    session.add(case)
    audit(session, actor=manager, action="open", case=case)
    _emit(session, case, CaseOpened(case_id=case.id, manager=case.manager, opened_on=today,
                                    household_size=household_size), node)
    return case


def _open(case: CasesCase) -> None:
    if case.status == "closed":
        raise Conflict(f"case is closed: closed on {case.closed_on} ({case.close_reason})")


def record_consultation(
    session: Session, *, case: CasesCase, held_on: date, duration_minutes: int, mode: Mode,
    topics: list[Topic], note: str | None, actor: str, node: str,
) -> CasesConsultation:
    """Record a consultation; ConsultationRecorded carries codes and minutes, never the note."""
    _open(case)
    consultation = CasesConsultation(
        id=new_id(), case_id=case.id, held_on=held_on, duration_minutes=duration_minutes,
        mode=mode, topics=list(topics), note=note, recorded_by=actor[:255])
    case.updated_at = utcnow()
    session.add_all([consultation, case])
    audit(session, actor=actor, action="record_consultation", case=case, detail=consultation.id)
    _emit(session, case, ConsultationRecorded(
        case_id=case.id, consultation_id=consultation.id, manager=case.manager, held_on=held_on,
        duration_minutes=duration_minutes, mode=mode, topics=topics), node)
    return consultation


def close_case(session: Session, *, case: CasesCase, reason: CloseReason, actor: str,
               node: str) -> CasesCase:
    """Close an open case with its reason (CaseClosed); a closed case cannot be closed again."""
    _open(case)
    today = date.today()
    case.status, case.closed_on, case.close_reason = "closed", today, reason
    case.updated_at = utcnow()
    session.add(case)
    audit(session, actor=actor, action="close", case=case, detail=reason)
    _emit(session, case, CaseClosed(case_id=case.id, manager=case.manager, closed_on=today,
                                    reason=reason), node)
    return case
