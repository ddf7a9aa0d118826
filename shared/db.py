"""Database per service: SQLModel engine and sessions; SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DDL, Engine, Table, event, insert, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30
# FULL: a commit is on disk before it is acknowledged, also across a power loss (NORMAL in WAL mode may
# roll back the last commits then). Its cost, measured with bench/bus.py, is in docs/benchmarks.md.
SQLITE_SYNCHRONOUS = "FULL"
# The database itself failed, not the statement: SQLite's messages, PostgreSQL's SQLSTATE classes
# (08 connection, 53 insufficient resources such as a full disk, 57P shut down, 25006 read-only).
SQLITE_INFRA = ("database is locked", "database or disk is full", "readonly database", "unable to open",
                "disk i/o error", "database table is locked")
PG_INFRA = ("08", "53", "57P", "25006")
_WRITER = "lotse_writer"  # connection info: this transaction holds the process's SQLite writer lock
_QUERY_ONLY = "lotse_query_only"  # connection info: PRAGMA query_only is on for this read transaction
READ_ONLY = "lotse_read_only"  # execution option: a read-only transaction (no writer lock on SQLite)
APPEND_ONLY_PERMIT = "lotse_append_only_permit"  # Table.info: the permit table's name (None: no changes at all)
SESSION_KEYSTORE = "lotse_keystore"  # Session.info: the key store that seals personal fields (shared/sealing.py)
T = TypeVar("T")
IN_CHUNK = 500  # values per IN (...): well inside SQLite's and PostgreSQL's limits on bound parameters


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """The values in slices of `size`, one IN (...) query each."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT many rows (tuples of hashable values in the order of `columns`) in the session's transaction.

    The bus's own rows (outbox, inbox, the state's replay guard), written by every event: on SQLite the statement
    goes to the driver's executemany as it is, on PostgreSQL (psycopg) the rows go in with one COPY; each column's
    values are converted by the column's type once per distinct value. SQLAlchemy's per-row parameter handling
    cost more than the insert itself on SQLite, and psycopg parsed its long multi-row INSERT anew each time
    (bench/bus.py, docs/benchmarks.md). Any other driver: SQLAlchemy's insert.
    """
    if not rows:
        return
    conn = session.connection()  # begins the transaction: on SQLite, takes the process's writer lock
    kind = conn.dialect.name if conn.dialect.name == "sqlite" or conn.dialect.driver == "psycopg" else None
    if kind is None:
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    sql, processors = _driver_insert(conn.dialect, table, tuple(columns))
    if any(processors):
        values = [list(column) for column in zip(*rows, strict=True)]
        for i, process in enumerate(processors):
            if process is not None:  # once per distinct value: a batch's rows often share a timestamp
                converted = {v: process(v) for v in set(values[i])}
                values[i] = [converted[v] for v in values[i]]
        rows = list(zip(*values, strict=True))
    if kind == "sqlite":
        conn.exec_driver_sql(sql, rows)
        return
    dbapi, driver = conn.dialect.loaded_dbapi, conn.connection.driver_connection
    assert driver is not None  # the transaction above checked the connection out
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:  # as SQLAlchemy raises it, so callers tell a lost database from a bad row
        lost = connection_lost(exc, driver)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, connection_invalidated=lost) from exc


_driver_inserts: dict[tuple[str, Table, tuple[str, ...]], tuple[str, list[Any]]] = {}


def _driver_insert(dialect: Any, table: Table, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The driver's statement for these columns and each column's conversion (None: the value as it is)."""
    key = (dialect.name, table, columns)
    if key not in _driver_inserts:
        # The driver knows nothing of SQLAlchemy's Python-side defaults: every column that has one is given.
        if missing := [c.name for c in table.columns if c.name not in columns and c.default is not None]:
            raise ValueError(f"insert_rows into {table.name} must give {', '.join(missing)} (they have defaults)")
        prep = dialect.identifier_preparer
        names = ", ".join(prep.quote(c) for c in columns)
        sql = (f"INSERT INTO {prep.format_table(table)} ({names}) VALUES ({', '.join('?' for _ in columns)})"
               if dialect.name == "sqlite" else f"COPY {prep.format_table(table)} ({names}) FROM STDIN")
        _driver_inserts[key] = sql, [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    return _driver_inserts[key]


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL + busy timeout on SQLite, pooled pre-ping on PostgreSQL."""
    if url.startswith("sqlite"):
        # One writer at a time per process, handed over by a lock: SQLite's busy handler would
        # otherwise make waiting threads sleep-poll (long latency tails under load).
        writer = threading.Lock()
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            # Let SQLAlchemy, not pysqlite, issue BEGIN: savepoints then work (per-event retries).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
            cur.execute("PRAGMA foreign_keys=ON")
            # What is deleted or overwritten is zeroed in the file, not left in free pages: an erased name
            # must not be readable from the database file afterwards (services/cases/erasure.py).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A WAL reader: neither waits for nor blocks writers. query_only makes a write in it fail
                # loudly instead of upgrading to a write lock the process's writer lock knows nothing of.
                conn.exec_driver_sql("PRAGMA query_only=1")
                conn.info[_QUERY_ONLY] = True
                conn.exec_driver_sql("BEGIN")
                return
            # The lock belongs to the connection's transaction, not to a thread: a request's unit of
            # work may begin in one worker thread and commit in another.
            if not writer.acquire(timeout=BUSY_TIMEOUT_S):
                raise sqlite3.OperationalError("database is locked")
            conn.info[_WRITER] = True
            try:
                # IMMEDIATE takes the write lock up front: no lock-upgrade deadlock between writers.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except Exception:
                _end(conn)
                raise

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn: Any) -> None:
            if conn.info.pop(_WRITER, False):
                writer.release()
            if conn.info.pop(_QUERY_ONLY, False):  # the pooled connection writes again for its next user
                conn.connection.driver_connection.execute("PRAGMA query_only=0")

        @event.listens_for(engine, "reset")
        def _returned(dbapi_conn: Any, record: Any, _: Any) -> None:
            # A connection whose transaction never ended for SQLAlchemy (a session dropped without being closed,
            # returned by the garbage collector) comes back through here only, right before the pool's rollback:
            # without this it kept the writer lock (every later write waited, then failed) or stayed read-only
            # for its next user ("attempt to write a readonly database", answered 503).
            writer_held, query_only = record.info.pop(_WRITER, False), record.info.pop(_QUERY_ONLY, False)
            if writer_held:
                writer.release()
            if query_only:
                with suppress(sqlite3.Error):  # a broken connection: the pool's rollback fails too and drops it
                    dbapi_conn.execute("PRAGMA query_only=0")
            if writer_held or query_only:
                log.warning("a connection to %s came back to the pool inside its %s transaction (a session was "
                            "not closed); it was rolled back", path, "write" if writer_held else "read")

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    # An executemany (the outbox, the inbox, batch handlers) becomes INSERT ... VALUES (...), (...) in pages of
    # 1,000 rows, as SQLAlchemy does for psycopg2, instead of one pipelined statement per row
    # (bench/bus.py on PostgreSQL: 1.8x the events per second).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


@contextmanager
def permitted(session: Session, permit: type[SQLModel]) -> Iterator[None]:
    """Within this block, tables made append-only with this permit table admit this transaction's changes.

    The permit row is inserted and deleted again inside the transaction: no other transaction ever sees it.
    """
    row = permit()
    session.add(row)
    session.flush()
    try:
        yield
        session.flush()
    finally:
        session.delete(row)
        session.flush()


def wipe_after_commit(session: Session) -> None:
    """Once this transaction has committed, fold SQLite's WAL into the database file and truncate it.

    With secure_delete, what the transaction overwrote or deleted is zeroed in its pages; the checkpoint
    writes those pages over the old ones in the file and empties the WAL, where the old versions still were.
    In a thread of its own: it waits for readers of older snapshots (at most the busy timeout), not the caller.
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if not str(engine.url).startswith("sqlite"):
        return  # PostgreSQL: deleted tuples go with VACUUM; backups are the key store's concern

    def checkpoint() -> None:
        try:
            raw = engine.raw_connection()
            try:
                driver: Any = raw.driver_connection
                busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy:
                    log.warning("the WAL could not be truncated after an erasure (readers busy); it is on the "
                                "next checkpoint")
            finally:
                raw.close()
        except Exception:
            log.exception("checkpoint after an erasure failed")

    event.listen(session, "after_commit",
                 lambda _: threading.Thread(target=checkpoint, name="wipe", daemon=True).start(), once=True)


def connection_lost(exc: BaseException, driver: Any) -> bool:
    """Is the PostgreSQL connection `exc` came from gone, so the pool must not hand it out again?

    psycopg marks a connection broken only once libpq has seen it fail; a server that ended the connection while
    a command was being sent (pg_terminate_backend, a restart) can first surface as an OperationalError without
    SQLSTATE ("connection socket closed") on a connection still marked good, and its next ROLLBACK then fails
    too. Such an error, or SQLSTATE class 08 (connection) or 57P01-57P03 (the server shut down), loses it.
    """
    if driver is not None and (driver.closed or driver.broken):
        return True
    if not type(exc).__module__.startswith("psycopg"):
        return False
    state = getattr(exc, "sqlstate", None)
    return (state is None and type(exc).__name__ == "OperationalError"
            or state is not None and state.startswith(("08", "57P01", "57P02", "57P03")))


def is_infrastructure(exc: BaseException) -> bool:
    """Did the database fail (unreachable, locked, full, read-only) rather than the statement or handler?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        orig = getattr(current, "orig", None) or current
        if isinstance(orig, sqlite3.OperationalError) and any(m in str(orig).lower() for m in SQLITE_INFRA):
            return True
        state = getattr(orig, "sqlstate", None)
        if connection_lost(orig, None) or (type(orig).__module__.startswith("psycopg")
                                           and state is not None and state.startswith(PG_INFRA)):
            return True
        current = current.__cause__ or current.__context__
    return False


def append_only(table: Table, *, permit: str | None = None) -> None:
    """The table refuses UPDATE and DELETE (and TRUNCATE) in the database itself, not only in the code.

    With `permit` (a table's name), a transaction that holds a row in that table may change or delete rows:
    the erasure of a case's personal data, which inserts its permit, changes, and deletes the permit again
    before it commits, so no other transaction ever sees one (services/cases/erasure.py).
    """
    table.info[APPEND_ONLY_PERMIT] = permit
    for dialect, statements in append_only_ddl(table.name, permit).items():
        for statement in statements:
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


def append_only_ddl(name: str, permit: str | None = None) -> dict[str, list[str]]:
    """The statements that make a table append-only, per dialect (the migrations use them, too)."""
    refusal = f"{name} is append-only"
    when = f"WHEN NOT EXISTS (SELECT 1 FROM {permit}) " if permit else ""
    sqlite = [f"CREATE TRIGGER IF NOT EXISTS {name}_no_{op.lower()} BEFORE {op} ON {name} "
              f"{when}BEGIN SELECT RAISE(ABORT, '{refusal}'); END" for op in ("UPDATE", "DELETE")]
    admit = (f"IF TG_OP <> 'TRUNCATE' AND EXISTS (SELECT 1 FROM {permit}) THEN "
             "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; ") if permit else ""
    postgresql = [
        f"CREATE OR REPLACE FUNCTION {name}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {admit}RAISE EXCEPTION '{refusal}'; END $$",
        f"CREATE TRIGGER {name}_no_change BEFORE UPDATE OR DELETE ON {name} "
        f"FOR EACH ROW EXECUTE FUNCTION {name}_append_only()",
        f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_append_only()",
    ]
    return {"sqlite": sqlite, "postgresql": postgresql}


class Database:
    """One service's database: engine, schema, sessions; remembers whether its last commit could be made."""

    def __init__(self, url: str, tables: Sequence[Table]) -> None:
        self.url = url
        self.engine = make_engine(url)
        # Read-only transactions: on SQLite a WAL snapshot without the process's writer lock.
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
        self.tables = tables
        self.keystore: Any = None  # shared.keystore.KeyStore: seals the personal fields of its models
        self.failing = False  # the last transaction failed for infrastructure reasons
        event.listen(self.engine, "handle_error", self._on_error)
        event.listen(self.engine, "commit", self._on_commit)

    def _on_error(self, context: Any) -> None:
        conn = context.connection
        if (not context.is_disconnect and context.dialect.driver == "psycopg" and conn is not None
                and not conn.invalidated and connection_lost(context.original_exception, None)):
            context.is_disconnect = True  # SQLAlchemy asks psycopg's broken flag only: see connection_lost
        if is_infrastructure(context.original_exception) or context.is_disconnect:
            self.failing = True

    def _on_commit(self, _: Any) -> None:
        self.failing = False

    def writable(self) -> bool:
        """Can a transaction commit now? The last one's outcome; after a failure, a write-lock probe."""
        if not self.failing:
            return self.ping()
        try:
            with self.engine.connect() as conn:
                if self.url.startswith("sqlite"):
                    conn.exec_driver_sql("PRAGMA quick_check(1)")
                    with conn.begin():  # takes the write lock (BEGIN IMMEDIATE), writes nothing
                        pass
                elif conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
                    return False
            return True
        except Exception:
            return False

    def create_all(self) -> None:
        """Create the tables directly, without a migration history: for tests and scratch databases."""
        SQLModel.metadata.create_all(self.engine, tables=list(self.tables))

    def new_session(self, *, reading: bool = False) -> Session:
        """A session on this database (a read-only transaction when `reading`), with its key store."""
        info = {SESSION_KEYSTORE: self.keystore} if self.keystore is not None else None
        if reading:  # no autoflush: a read writes nothing inside its transaction
            return Session(self.reader, expire_on_commit=False, autoflush=False, info=info)
        return Session(self.engine, expire_on_commit=False, info=info)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.new_session() as session:
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
