"""The outbox writes what a session emitted with the commit that carries it, and nothing a rollback undid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Table
from sqlmodel import func, select

from shared.bus import OutboxEvent, emit
from shared.bus.outbox import _wakers
from shared.db import READ_ONLY, Database
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


def test_the_relay_is_woken_once_the_outermost_transaction_committed_not_at_a_savepoint(
        database: Callable[[Sequence[Table]], Database]) -> None:
    """A consumer redoing a failed batch writes each event's effects (and what it emits) in a savepoint."""
    db = database([])
    seen_at_wake: list[int] = []

    def committed() -> int:  # what the relay would find, from a connection of its own
        with db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            return int(conn.execute(select(func.count()).select_from(OutboxEvent)).scalar_one())

    _wakers[db.url] = lambda: seen_at_wake.append(committed())
    try:
        with db.session() as session:
            with session.begin_nested():  # released: its row is written, not committed yet
                emit(session, consultation(), stream="lotse:events:cases", tenant="08111000", node="n",
                     aggregate_id="case-1")
            try:
                with session.begin_nested():  # rolled back: its row goes
                    emit(session, consultation(), stream="lotse:events:cases", tenant="08111000", node="n",
                         aggregate_id="case-2")
                    raise RuntimeError("the handler refuses")
            except RuntimeError:
                pass
            assert seen_at_wake == []
            session.commit()
        assert seen_at_wake == [1]
    finally:
        _wakers.pop(db.url, None)
