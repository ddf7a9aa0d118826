"""SQLite engine: one writer at a time per process; read-only transactions never wait for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from shared.db import READ_ONLY, make_engine


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
