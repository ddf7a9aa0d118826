"""What every service's HTTP layer shares: the unit of work, domain errors as answers, roles, query types."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Table, inspect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from shared.auth import Principal, PrincipalDep, require_roles
from shared.db import Database, is_infrastructure
from shared.errors import Conflict, InvalidInput, NotFound
from shared.fields import AGS_PATTERN
from shared.service import ServiceContext

log = logging.getLogger(__name__)

# At state level: aggregates only, over every tenant (the token's tenants do not narrow them).
STATE_ROLES = ("state_operator", "funding_officer")
RETRY_AFTER_S = 5  # a write that failed on the database's side: when to try again
RETRY_SAFE = "lotse_retry_safe"  # request state: its connection dropped before the commit; nothing written
READS = frozenset({"GET", "HEAD"})  # their unit of work reads in a read-only transaction
_SEES_ITS_RECORD = "lotse_sees_its_record"  # a read route's mark: when its reading must see its own record


def sees_its_record(when: Callable[[Request], bool] = lambda _: True) -> Callable[[Any], Any]:
    """Mark a read route whose answer shows the record of its own reading (the audit trail it reads, the
    search log its result points to): when `when(request)` holds, its unit of work is a write transaction."""

    def mark(endpoint: Any) -> Any:
        setattr(endpoint, _SEES_ITS_RECORD, when)
        return endpoint

    return mark


def reads_only(request: Request) -> bool:
    """Does the request's unit of work only read (and append, after the read, what it recorded)?"""
    if request.method not in READS:
        return False
    when = getattr(getattr(request.scope.get("route"), "endpoint", None), _SEES_ITS_RECORD, None)
    return when is None or not when(request)


def register_error_handlers(app: FastAPI) -> None:
    """Map the domain's errors to 404/409/422; the unit of work has rolled back by then."""

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": [{"field": exc.field, "reason": exc.reason}]}, status_code=422)

    async def _database_failed(request: Request, exc: Exception) -> JSONResponse:
        # Rolled back, nothing written: a database that is locked, full, read-only or gone is temporary.
        if is_infrastructure(exc):
            log.warning("answered 503 to %s %s: the database failed (%s)", request.method, request.url.path,
                        str(exc).splitlines()[0][:300])
            return JSONResponse({"detail": "the database is unavailable; nothing was written, try again",
                                 "retry_after": RETRY_AFTER_S}, status_code=503,
                                headers={"Retry-After": str(RETRY_AFTER_S)})
        raise exc

    app.add_exception_handler(DBAPIError, _database_failed)
    app.add_exception_handler(sqlite3.OperationalError, _database_failed)  # from the writer lock's wait


def context_of(service: str) -> Callable[[Request], Awaitable[ServiceContext]]:
    """A dependency: the running service's context (settings, database) on this node."""

    async def context(request: Request) -> ServiceContext:  # no I/O: no worker-thread hop
        return request.app.state.contexts[service]  # type: ignore[no-any-return]

    return context


def work_slots(request: Request) -> asyncio.Semaphore:
    """The process's slots for units of work: one fewer than its worker threads.

    A unit of work runs its dependencies, its route and its commit in several worker-thread hops, and a
    hop may wait for SQLite's writer lock (or a pooled connection) while holding its thread. With fewer
    units of work under way than threads, the one holding the lock always finds a thread for its next hop.
    """
    slots: asyncio.Semaphore | None = getattr(request.app.state, "work_slots", None)
    if slots is None:
        threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
        slots = request.app.state.work_slots = asyncio.Semaphore(max(1, threads - 1))
    return slots


def unit_of_work(service: str) -> Callable[[Request], AsyncIterator[Session]]:
    """A dependency: the service's session, committed once after the route returned, else rolled back."""

    async def session(request: Request) -> AsyncIterator[Session]:
        ctx: ServiceContext = request.app.state.contexts[service]
        reading = reads_only(request)
        async with work_slots(request):
            # A read has no autoflush: what it appends is written by finish_read, not inside the read.
            db_session = ctx.database.new_session(reading=reading)
            try:
                yield db_session
            except BaseException as exc:
                if connection_dropped(exc):  # before the commit: the node may run the request once more
                    setattr(request.state, RETRY_SAFE, True)
                # Rolls back what was not committed and frees the connection (and SQLite's writer lock).
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(db_session.close)
                raise
            with anyio.CancelScope(shield=True):  # a commit is never left half-way by a cancellation
                if reading:
                    await run_in_threadpool(finish_read, ctx.database, db_session)
                else:
                    await run_in_threadpool(commit_and_close, db_session)

    return session


def connection_dropped(exc: BaseException) -> bool:
    """Did the database end the connection under the unit of work (a failover, a restart)?"""
    current: BaseException | None = exc
    for _ in range(10):  # the exception and its causes
        if current is None:
            return False
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def commit_and_close(db_session: Session) -> None:
    """Commit, then free the connection; closing after a failed commit rolls back (one worker-thread hop)."""
    try:
        db_session.commit()
    finally:
        db_session.close()


def finish_read(database: Database, db_session: Session) -> None:
    """End a read's transaction, then write what it appended (audit rows, the search log) in a short one.

    A read holds no writer lock while it runs its dependencies and route across worker-thread hops; only
    the append takes it, for one INSERT and the commit. A read may add rows, never change or delete any.
    """
    try:
        changed = [obj for obj in db_session.dirty if db_session.is_modified(obj)]
        if changed or db_session.deleted:
            raise RuntimeError(f"a read changed or deleted rows ({changed or list(db_session.deleted)})")
        appended = list(db_session.new)
        for obj in appended:
            db_session.expunge(obj)
    finally:
        db_session.close()
    if appended:  # plain INSERTs (the rows are new and nothing reads them back): no ORM flush to plan
        rows: dict[Table, list[dict[str, Any]]] = {}
        for obj in appended:
            mapper = inspect(obj).mapper
            values = {attr.columns[0].name: getattr(obj, attr.key) for attr in mapper.column_attrs}
            rows.setdefault(mapper.local_table, []).append(  # type: ignore[arg-type]
                {name: value for name, value in values.items() if value is not None})
        with database.engine.begin() as conn:
            for table, values_list in rows.items():
                for values in values_list:  # one by one: rows may lack different (defaulted) columns
                    conn.execute(table.insert(), values)


def session_dependency(service: str) -> Any:
    """`Depends` on the unit of work, ending before the answer is sent: a failed commit is never a 2xx."""
    return Depends(unit_of_work(service), scope="function")


def requires(*roles: str) -> Any:
    """A dependency answering 403 before the body or any object is even looked at."""

    async def check(principal: PrincipalDep) -> Principal:  # no I/O: no worker thread needed
        require_roles(principal, *roles)
        return principal

    return Depends(check)


StateCaller = Annotated[Principal, requires(*STATE_ROLES)]
TenantQuery = Annotated[str | None, Query(max_length=8, pattern=AGS_PATTERN)]
# Every integer a client sends is bounded: past SQL's 64-bit integers a query would fail, not answer.
SQL_INT_MAX = 2**63 - 1
CursorQuery = Annotated[int | None, Query(ge=0, le=SQL_INT_MAX, description="the next_cursor of the page before")]
YearPath = Annotated[int, Path(ge=2000, le=2099, description="the funding year")]
