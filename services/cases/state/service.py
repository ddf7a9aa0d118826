"""The statewide, pseudonymous view: every node's consultations and case states, and their statistics."""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, func, select

from shared.db import in_chunks, insert_rows
from shared.events import utcnow
from shared.events.codes import CloseReason, Eligibility, Mode, Topic

from ..statistics import ConsultationStatistics, Tally, check_window
from .models import PSEUDONYM_PATTERN, StateCase, StateConsultation, StateConsultationTopic


class NotPseudonymous(ValueError):
    """An inbound event's case id is not a node's pseudonym (retried, then dead-lettered)."""


_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)  # compiled once: re's own cache was missed under load (py-spy)


def _pseudonym(value: str) -> str:
    if not _PSEUDONYM.fullmatch(value):
        raise NotPseudonymous("case_id: not a 64-hex pseudonym; refusing a raw case id at state")
    return value


_CONSULTATION_TABLE = StateConsultation.__table__  # type: ignore[attr-defined]
_CONSULTATION_COLUMNS = ("event_id", "node", "tenant", "client", "held_on", "month", "mode", "duration_minutes",
                         "received_at")
_TOPIC_TABLE = StateConsultationTopic.__table__  # type: ignore[attr-defined]


def note_consultation(
    session: Session, *, event_id: str, node: str, tenant: str, client: str, held_on: date,
    mode: Mode, topics: list[Topic], duration_minutes: int,
) -> bool:
    """Keep one statewide row per ConsultationRecorded event; False if this event is already kept."""
    return bool(note_consultations(session, [Consultation(event_id, node, tenant, client, held_on, mode, topics,
                                                          duration_minutes)]))


class Consultation(NamedTuple):
    """A node's consultation as the state keeps it (from ConsultationRecorded)."""

    event_id: str
    node: str
    tenant: str
    client: str
    held_on: date
    mode: Mode
    topics: list[Topic]
    duration_minutes: int


def note_consultations(session: Session, consultations: list[Consultation]) -> int:
    """Keep one statewide row per ConsultationRecorded event, for a run of them (a catching-up state node writes
    thousands per second); returns how many were new (an event already kept, or twice in the run, counts once).

    The events kept already are looked up first, in the run's transaction (on SQLite it holds the writer lock);
    the new rows go to the driver as they are (insert_rows). SQLAlchemy's INSERT … ON CONFLICT DO NOTHING
    RETURNING set up and converted every row's parameters in Python: this function was 40 % of the state node's
    interpreter time in a catch-up, 17 % now (py-spy; 36-50 -> 18-22 µs per event, docs/benchmarks.md). On
    PostgreSQL a concurrent writer of the same event makes the insert fail on the key; the consumer redoes the
    run and then finds it kept.
    """
    clients = [_pseudonym(c.client) for c in consultations]  # every one checked, also those kept already
    if not consultations:
        return 0
    kept: set[str] = set()
    for chunk in in_chunks(sorted({c.event_id for c in consultations})):
        kept.update(session.execute(select(_CONSULTATION_TABLE.c.event_id)
                                    .where(_CONSULTATION_TABLE.c.event_id.in_(chunk))).scalars())
    new: dict[str, tuple[Consultation, str]] = {}
    for c, client in zip(consultations, clients, strict=True):
        if c.event_id not in kept and c.event_id not in new:
            new[c.event_id] = c, client
    now = utcnow()
    months = {day: day.strftime("%Y-%m") for day in {c.held_on for c, _ in new.values()}}  # once per day in the run
    insert_rows(session, _CONSULTATION_TABLE, _CONSULTATION_COLUMNS, [
        (c.event_id, c.node, c.tenant, client, c.held_on, months[c.held_on], str(c.mode), c.duration_minutes, now)
        for c, client in new.values()])
    insert_rows(session, _TOPIC_TABLE, ("event_id", "topic"),
                [(event_id, str(t)) for event_id, (c, _) in new.items() for t in sorted(set(c.topics))])
    return len(new)


def _state_case(session: Session, *, node: str, client: str, tenant: str) -> StateCase:
    """The node's case as the state knows it, created on the first event about it."""
    case = session.get(StateCase, (node, _pseudonym(client)), with_for_update=True)
    if case is None:
        case = StateCase(node=node, client=client, tenant=tenant)
        session.add(case)
        session.flush()  # a concurrent first event fails here, on the primary key, and retries
    return case


def note_case_opened(session: Session, *, node: str, tenant: str, client: str, opened_on: date,
                     eligibility: Eligibility | None = None, household_members: int = 0) -> None:
    """Remember that a node's case is open (it may already be known closed: then it stays so)."""
    case = _state_case(session, node=node, client=client, tenant=tenant)
    case.opened_on, case.updated_at = opened_on, utcnow()
    case.eligibility, case.household_members = eligibility, household_members
    session.add(case)


def note_counselling_extended(session: Session, *, node: str, tenant: str, client: str, extended_on: date) -> None:
    """Remember that a node's case was counselled into a fourth year."""
    case = _state_case(session, node=node, client=client, tenant=tenant)
    case.counselling_extended_on, case.updated_at = extended_on, utcnow()
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
    check_window(from_, to)
    c = StateConsultation
    where: list[ColumnElement[bool]] = []
    if tenant is not None:
        where.append(col(c.tenant) == tenant)
    if from_ is not None:
        where.append(col(c.held_on) >= from_)
    if to is not None:
        where.append(col(c.held_on) <= to)
    # One grouped read yields the totals, by_mode and by_month: they always add up to each other.
    tally = Tally()
    for mode, month, n, minutes in session.exec(
            select(c.mode, c.month, func.count(), func.sum(c.duration_minutes))
            .where(*where).group_by(c.mode, c.month)).all():
        tally.add(mode=mode, month=month, minutes=minutes, count=n)
    t = StateConsultationTopic
    for topic, n, minutes in session.exec(
            select(t.topic, func.count(), func.sum(c.duration_minutes))
            .join(c, col(c.event_id) == col(t.event_id)).where(*where).group_by(t.topic)).all():
        tally.add_topics([topic], minutes=minutes, count=n)
    # Pseudonyms are per node (each has its own key): a client is a (node, pseudonym) pair.
    clients = select(c.node, c.client).where(*where).distinct().subquery()
    n_clients = session.exec(select(func.count()).select_from(clients)).one()
    return tally.publish(tenant=tenant, from_=from_, to=to, distinct_clients=n_clients,
                         open_cases=open_cases(session, tenant=tenant))


def open_cases(session: Session, *, tenant: str | None) -> list[tuple[str, int]]:
    """Cases open now per municipality (opened, not closed), every municipality seen or the one."""
    s = StateCase
    is_open = and_(col(s.opened_on).is_not(None), col(s.closed_on).is_(None))
    query = select(s.tenant, func.count(sql_case((is_open, 1)))).group_by(s.tenant)
    if tenant is not None:
        query = query.where(s.tenant == tenant)
    counts = dict(session.exec(query.order_by(s.tenant)).all())
    if tenant is not None:
        counts.setdefault(tenant, 0)
    return list(counts.items())
