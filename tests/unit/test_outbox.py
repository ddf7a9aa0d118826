"""The outbox writes what a session emitted with the commit that carries it, and nothing a rollback undid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Table
from sqlmodel import func, select

from shared.bus import OutboxEvent, emit
from shared.db import Database
from shared.events import new_event_id
from shared.events.cases import ConsultationRecorded
from shared.events.codes import Mode, Topic


def consultation() -> ConsultationRecorded:
    return ConsultationRecorded(case_id="c-" + new_event_id(), consultation_id=new_event_id(), manager="m1",
                                held_on=date(2026, 11, 2), duration_minutes=30, mode=Mode.office,
                                topics=[Topic.language])


def test_a_session_that_commits_twice_keeps_both_batches_and_drops_what_it_rolled_back(
        database: Callable[[Sequence[Table]], Database]) -> None:
    db = database([])
    with db.session() as session:
        for outcome in ("commit", "commit", "rollback", "commit"):
            session.exec(select(func.count()).select_from(OutboxEvent)).one()  # a transaction is open
            emit(session, consultation(), stream="lotse:events:cases", tenant="08111000", node="n",
                 aggregate_id="case-1")
            getattr(session, outcome)()
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(OutboxEvent)).one() == 3
