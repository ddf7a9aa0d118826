"""The database layer: one SQLite writer at a time per process, readers that never wait for it, and insert_rows."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from shared.bus.consumer import INBOX
from shared.db import READ_ONLY, Database, connection_lost, insert_rows, is_infrastructure, make_engine
from tests.conftest import POSTGRES_URL


def writer_lock(engine: Engine) -> Any:
    """The per-process writer lock the engine's begin hook closes over."""
    for listener in engine.dispatch.begin:
        for cell in getattr(listener, "__closure__", None) or ():
            if isinstance(cell.cell_contents, type(threading.Lock())):
                return cell.cell_contents
    raise AssertionError("no writer lock on this engine")


def test_a_reader_neither_waits_for_the_writer_nor_frees_its_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    writer = engine.connect()
    writer.begin()
    writer.execute(text("INSERT INTO t VALUES (2)"))  # holds this process's writer lock
    started = time.monotonic()
    with engine.connect().execution_options(**{READ_ONLY: True}) as reader:  # same thread
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1  # committed state only
    assert time.monotonic() - started < 5

    assert writer_lock(engine).locked()  # the reader's end did not hand the writer lock away
    writer.commit()
    writer.close()
    assert not writer_lock(engine).locked()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3
    engine.dispose()


def test_a_transaction_begun_in_one_thread_and_committed_in_another_frees_the_writer_lock(
        tmp_path: Path) -> None:
    """A request's unit of work begins in one worker thread and commits in another."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    conn = engine.connect()
    began = threading.Thread(target=lambda: (conn.begin(), conn.execute(text("INSERT INTO t VALUES (1)"))))
    began.start()
    began.join()
    assert writer_lock(engine).locked()
    committed = threading.Thread(target=conn.commit)
    committed.start()
    committed.join()
    assert not writer_lock(engine).locked()
    done = threading.Event()

    def write_again() -> None:
        with engine.begin() as again:
            again.execute(text("INSERT INTO t VALUES (2)"))
        done.set()

    threading.Thread(target=write_again, daemon=True).start()
    assert done.wait(5), "the next writer waited for a lock nobody holds"
    conn.close()
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_insert_rows_stores_what_sqlalchemys_insert_stores(backend: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """The bus's rows (the inbox: a column named like a keyword, an aware timestamp) read back the same whether
    written by insert_rows (on SQLite straight to the driver) or by SQLAlchemy's insert."""
    url = f"sqlite:///{tmp_path / 'x.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    db = Database(url, [INBOX])
    db.create_all()
    at = datetime(2026, 11, 30, 21, 5, 7, 123456, tzinfo=UTC)
    other = datetime(2026, 11, 30, 22, 0, tzinfo=timezone(timedelta(hours=1)))  # the same instant as 21:00 UTC
    with db.session() as s:
        insert_rows(s, INBOX, ("group", "event_id", "processed_at"),
                    [("g", "01" * 13, at), ("g", "02" * 13, at), ("g", "03" * 13, other)])
        s.execute(insert(INBOX), [{"group": "h", "event_id": "01" * 13, "processed_at": at},
                                  {"group": "h", "event_id": "03" * 13, "processed_at": other}])
        insert_rows(s, INBOX, ("group", "event_id", "processed_at"), [])  # nothing: no statement
        s.commit()
    with db.session() as s:
        rows = s.execute(select(INBOX).order_by(INBOX.c.group, INBOX.c.event_id)).all()
        raw = s.execute(text("SELECT processed_at FROM bus_inbox ORDER BY \"group\", event_id")).scalars().all()
    assert [(r.group, r.event_id, r.processed_at) for r in rows] == [
        ("g", "01" * 13, at), ("g", "02" * 13, at), ("g", "03" * 13, other), ("h", "01" * 13, at),
        ("h", "03" * 13, other)]
    assert raw[0] == raw[1] == raw[3] and raw[2] == raw[4]  # stored alike, not only read back alike
    db.dispose()


def test_insert_rows_refuses_to_leave_out_a_column_with_a_default(tmp_path: Path) -> None:
    """The driver would store NULL where SQLAlchemy fills in a Python-side default: such a column must be given."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", [INBOX])
    db.create_all()
    stamped = Table("stamped", MetaData(), Column("id", Integer, primary_key=True),
                    Column("at", DateTime, default=lambda: datetime.now(UTC)))
    stamped.create(db.engine)
    with db.session() as s, pytest.raises(ValueError, match="stamped must give at"):
        insert_rows(s, stamped, ("id",), [(1,)])
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_insert_rows_raises_a_duplicate_as_sqlalchemy_does_and_the_session_rolls_back(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A row that breaks a key is an IntegrityError (the consumer tells it from a lost database), nothing of the
    statement stays, and the session goes on."""
    url = f"sqlite:///{tmp_path / 'x.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    db = Database(url, [INBOX])
    db.create_all()
    at = datetime(2026, 11, 30, 21, 5, tzinfo=UTC)
    with db.session() as s:
        with pytest.raises(IntegrityError) as raised:
            insert_rows(s, INBOX, ("group", "event_id", "processed_at"), [("g", "01" * 13, at), ("g", "01" * 13, at)])
        assert not is_infrastructure(raised.value)
        s.rollback()
        insert_rows(s, INBOX, ("group", "event_id", "processed_at"), [("g", "02" * 13, at)])
        s.commit()
    with db.session() as s:
        assert s.execute(select(INBOX.c.event_id)).scalars().all() == ["02" * 13]
    db.dispose()


def test_insert_rows_on_a_connection_postgresql_ended_is_an_infrastructure_failure(postgres_url: str) -> None:
    """COPY on a connection the server has ended (a failover, a restart): SQLAlchemy's DBAPIError, the connection
    invalidated, so the consumer waits for the database instead of counting a delivery attempt."""
    db = Database(postgres_url, [INBOX])
    db.create_all()
    admin = create_engine(POSTGRES_URL)
    try:
        with db.session() as s:
            pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with admin.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})  # waits for its end
            with pytest.raises(DBAPIError) as raised:
                insert_rows(s, INBOX, ("group", "event_id", "processed_at"),
                            [("g", "01" * 13, datetime(2026, 11, 30, tzinfo=UTC))])
            assert raised.value.connection_invalidated and is_infrastructure(raised.value)
        with db.session() as s:  # the pool hands out a new connection
            assert s.execute(select(INBOX.c.event_id)).scalars().all() == []
    finally:
        admin.dispose()
        db.dispose()


@pytest.mark.parametrize("path", ["copy", "statement"])
def test_a_connection_lost_before_psycopg_marks_it_broken_is_invalidated_all_the_same(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """The server ends the connection while a command is being sent: psycopg raises "connection socket closed"
    (OperationalError, no SQLSTATE) on a connection it has not yet marked broken (CI, 2026-12-01). SQLAlchemy's
    own check asks only that flag, kept the connection, and the session's ROLLBACK failed on it in turn."""
    import psycopg

    def socket_closed(*_: Any, **__: Any) -> Any:
        raise psycopg.OperationalError("connection socket closed")

    db = Database(postgres_url, [INBOX])
    db.create_all()
    try:
        with db.session() as s:
            s.execute(text("SELECT 1"))
            with monkeypatch.context() as patch:
                patch.setattr(psycopg.Cursor, "copy" if path == "copy" else "execute", socket_closed)
                with pytest.raises(DBAPIError) as raised:
                    if path == "copy":
                        insert_rows(s, INBOX, ("group", "event_id", "processed_at"),
                                    [("g", "01" * 13, datetime(2026, 11, 30, tzinfo=UTC))])
                    else:
                        s.execute(select(INBOX.c.event_id))
            assert raised.value.connection_invalidated and is_infrastructure(raised.value)
            assert db.failing or path == "copy"  # COPY goes past the engine's error events, straight to the driver
        with db.session() as s:  # the pool hands out a new connection
            assert s.execute(select(INBOX.c.event_id)).scalars().all() == []
    finally:
        db.dispose()


def test_connection_lost_tells_a_gone_connection_from_a_bad_statement() -> None:
    import psycopg
    from psycopg import errors

    assert connection_lost(psycopg.OperationalError("connection socket closed"), None)
    assert connection_lost(errors.AdminShutdown("terminating connection due to administrator command"), None)
    assert connection_lost(errors.ConnectionFailure("server closed the connection"), None)
    assert not connection_lost(errors.UniqueViolation("duplicate key"), None)
    assert not connection_lost(errors.DiskFull("no space left"), None)  # the database failed; the connection works
    assert not connection_lost(errors.QueryCanceled("statement timeout"), None)
    assert not connection_lost(sqlite3.OperationalError("database is locked"), None)


def test_a_session_dropped_without_closing_neither_keeps_the_writer_lock_nor_leaves_a_read_only_connection(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A unit of work nobody closed (its task dropped with its event loop) comes back through the garbage collector,
    which skips SQLAlchemy's rollback event: the pool's reset releases the lock and makes the connection writable."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", [INBOX])
    db.create_all()
    engine = db.engine
    reading = db.new_session(reading=True)
    reading.execute(text("SELECT count(*) FROM bus_inbox"))  # query_only on its connection
    writing = Session(engine)
    writing.execute(text("INSERT INTO bus_inbox VALUES ('g', 'e1', '2026-12-01 00:00:00')"))  # the writer lock
    assert writer_lock(engine).locked()
    del reading, writing
    gc.collect()
    assert not writer_lock(engine).locked()
    assert sorted(r.message for r in caplog.records if r.name == "shared.db") == [
        f"a connection to {tmp_path / 'x.db'} came back to the pool inside its {kind} transaction (a session was "
        "not closed); it was rolled back" for kind in ("read", "write")]
    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    assert len(pooled) == 2 and [c.driver_connection.execute("PRAGMA query_only").fetchone()[0]
                                 for c in pooled] == [0, 0]
    for connection in pooled:
        connection.close()
    with db.session() as session:  # and the next writer is not kept waiting
        session.execute(text("INSERT INTO bus_inbox VALUES ('g', 'e2', '2026-12-01 00:00:00')"))
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT event_id FROM bus_inbox")).scalars().all() == ["e2"]  # e1 rolled back
    engine.dispose()
