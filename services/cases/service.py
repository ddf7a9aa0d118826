"""The cases domain: case files, consultations, closure, and the audit trail of every access."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import get_args

from sqlalchemy import ColumnElement, and_, insert
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select
from ulid import ULID

from shared import http
from shared.bus import emit
from shared.events import STREAMS, Contract, utcnow
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import CloseReason, Mode, Topic

from .models import (
    PSEUDONYM_PATTERN,
    AuditAction,
    CasesAudit,
    CasesCase,
    CasesConsultation,
    CasesStateCase,
    CasesStateConsultation,
    CasesStateConsultationTopic,
)
from .statistics import Cell, ConsultationStatistics, publish

TOPICS: tuple[str, ...] = get_args(Topic)
MODES: tuple[str, ...] = get_args(Mode)


class NotFound(http.NotFound):
    """No such object (or not one the caller may see)."""


class Conflict(http.Conflict):
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


# -- state level: the statewide, pseudonymous view --------------------------------------------
class NotPseudonymous(ValueError):
    """An inbound event's case id is not a node's pseudonym (retried, then dead-lettered)."""


def _pseudonym(value: str) -> str:
    if not re.fullmatch(PSEUDONYM_PATTERN, value):
        raise NotPseudonymous("case_id: not a 64-hex pseudonym; refusing a raw case id at state")
    return value


_CONSULTATION_TABLE = CasesStateConsultation.__table__  # type: ignore[attr-defined]
_CONSULTATION_INSERT = {  # INSERT … ON CONFLICT DO NOTHING: the dedup check and the write in one statement
    "sqlite": sqlite_insert(_CONSULTATION_TABLE).on_conflict_do_nothing(index_elements=["event_id"])
    .returning(_CONSULTATION_TABLE.c.event_id),
    "postgresql": pg_insert(_CONSULTATION_TABLE).on_conflict_do_nothing(index_elements=["event_id"])
    .returning(_CONSULTATION_TABLE.c.event_id),
}
_TOPIC_INSERT = insert(CasesStateConsultationTopic.__table__)  # type: ignore[attr-defined]


def note_consultation(
    session: Session, *, event_id: str, node: str, tenant: str, client: str, held_on: date,
    mode: Mode, topics: list[Topic], duration_minutes: int,
) -> bool:
    """Keep one statewide row per ConsultationRecorded event; False if this event is already kept."""
    client = _pseudonym(client)
    # Core statements: a catching-up state node writes thousands of these per second.
    kept = session.execute(_CONSULTATION_INSERT[session.get_bind().dialect.name], {
        "event_id": event_id, "node": node, "tenant": tenant, "client": client, "held_on": held_on,
        "month": held_on.strftime("%Y-%m"), "mode": mode, "duration_minutes": duration_minutes})
    if kept.first() is None:  # the row exists: this event is already counted
        return False
    session.execute(_TOPIC_INSERT, [{"event_id": event_id, "topic": t} for t in sorted(set(topics))])
    return True


def _state_case(session: Session, *, node: str, client: str, tenant: str) -> CasesStateCase:
    """The node's case as the state knows it, created on the first event about it."""
    case = session.get(CasesStateCase, (node, _pseudonym(client)), with_for_update=True)
    if case is None:
        case = CasesStateCase(node=node, client=client, tenant=tenant)
        session.add(case)
        session.flush()  # a concurrent first event fails here, on the primary key, and retries
    return case


def note_case_opened(session: Session, *, node: str, tenant: str, client: str,
                     opened_on: date) -> None:
    """Remember that a node's case is open (it may already be known closed: then it stays so)."""
    case = _state_case(session, node=node, client=client, tenant=tenant)
    case.opened_on, case.updated_at = opened_on, utcnow()
    session.add(case)


def note_case_closed(session: Session, *, node: str, tenant: str, client: str, closed_on: date,
                     reason: CloseReason) -> None:
    """Remember that a node's case is closed (also if its CaseOpened has not arrived yet)."""
    case = _state_case(session, node=node, client=client, tenant=tenant)
    case.closed_on, case.close_reason, case.updated_at = closed_on, reason, utcnow()
    session.add(case)


def consultation_statistics(
    session: Session, *, tenant: str | None, from_: date | None, to: date | None,
) -> ConsultationStatistics:
    """Consultations, minutes and distinct clients by topic, mode and month, small cells withheld."""
    c = CasesStateConsultation
    where: list[ColumnElement[bool]] = []
    if tenant is not None:
        where.append(col(c.tenant) == tenant)
    if from_ is not None:
        where.append(col(c.held_on) >= from_)
    if to is not None:
        where.append(col(c.held_on) <= to)
    # One grouped read yields the totals, by_mode and by_month: they always add up to each other.
    groups = session.exec(select(c.mode, c.month, func.count(), func.sum(c.duration_minutes))
                          .where(*where).group_by(c.mode, c.month)).all()
    modes: dict[str, list[int]] = {m: [0, 0] for m in MODES}
    months: dict[str, list[int]] = {}
    for mode, month, n, minutes in groups:
        for cell in (modes.setdefault(mode, [0, 0]), months.setdefault(month, [0, 0])):
            cell[0] += n
            cell[1] += minutes
    t = CasesStateConsultationTopic
    topics = {topic: (n, minutes) for topic, n, minutes in session.exec(
        select(t.topic, func.count(), func.sum(c.duration_minutes))
        .join(c, col(c.event_id) == col(t.event_id)).where(*where).group_by(t.topic)).all()}
    # Pseudonyms are per node (each has its own key): a client is a (node, pseudonym) pair.
    clients = select(c.node, c.client).where(*where).distinct().subquery()
    n_clients = session.exec(select(func.count()).select_from(clients)).one()
    return publish(
        tenant=tenant, from_=from_, to=to, distinct_clients=n_clients,
        by_topic=[Cell(k, *topics.get(k, (0, 0))) for k in TOPICS],
        by_mode=[Cell(k, *v) for k, v in modes.items()],
        by_month=[Cell(k, *months[k]) for k in sorted(months)],
        open_cases=open_cases(session, tenant=tenant))


def open_cases(session: Session, *, tenant: str | None) -> list[tuple[str, int]]:
    """Cases open now per municipality (opened, not closed), every municipality seen or the one."""
    s = CasesStateCase
    is_open = and_(col(s.opened_on).is_not(None), col(s.closed_on).is_(None))
    query = select(s.tenant, func.count(sql_case((is_open, 1)))).group_by(s.tenant)
    if tenant is not None:
        query = query.where(s.tenant == tenant)
    counts = dict(session.exec(query.order_by(s.tenant)).all())
    if tenant is not None:
        counts.setdefault(tenant, 0)
    return list(counts.items())
