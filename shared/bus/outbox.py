"""Transactional outbox: `emit` in the service's transaction; `OutboxRelay` publishes in batches."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from contextlib import suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from shared.db import READ_ONLY, Database, in_chunks, insert_rows
from shared.events import Contract, Envelope, envelope_for, utcnow
from shared.telemetry import context_from, current_trace_context, tracer

from .cancellation import raise_if_cancelled
from .marks import Marks
from .metrics import OUTBOX_BACKLOG, PUBLISHED
from .tables import OutboxEvent

if TYPE_CHECKING:
    from shared.settings import Settings

log = logging.getLogger(__name__)
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
OUTBOX_COLUMNS = ("event_id", "stream", "body", "created_at")  # what add_envelope's rows hold, in order
_wakers: dict[str, Any] = {}  # database URL -> callable waking that database's relay
CHECK_EVERY_S = 1.0  # an idle relay asks the server this often whether it still holds its mark
# The running relay marks what it published at most this late, every batch since in one transaction. Marking
# each batch at once made the relay wait for the database's writer lock (behind the requests' commits) before
# it could publish the next: events waited with it (bench/api.py: consumed by plans p99 171-206 ms; 49-53 ms
# with marks written later and a 30 ms coalescing window). A crash before the mark publishes those rows
# again, as one between XADD and the mark always could; consumers' inboxes absorb them.
MARK_AFTER_S = 0.5


def emit(
    session: Session,
    payload: Contract,
    *,
    stream: str,
    tenant: str,
    node: str,
    aggregate_id: str,
    causation: Envelope | None = None,
    target_node: str | None = None,
) -> Envelope:
    """Add an event to the outbox in the caller's transaction; published after commit."""
    env = envelope_for(
        payload,
        tenant=tenant,
        node=node,
        aggregate_id=aggregate_id,
        correlation_id=(causation.correlation_id or causation.event_id) if causation else None,
        causation_id=causation.event_id if causation else None,
        trace=current_trace_context(),
        target_node=target_node,
    )
    add_envelope(session, env, stream)
    return env


def add_envelope(session: Session, env: Envelope, stream: str) -> None:
    """Put a ready envelope into the outbox (used by emit and by the federation relay).

    Rows are buffered on the session and written with one executemany just before commit,
    inside the same transaction as the caller's changes.
    """
    session.info.setdefault("outbox_rows", []).append((env.event_id, stream, env.to_json()))


# Listened to once for all sessions, SQLModel's or not; one that buffered no rows pays a dict lookup per commit.
# Listening on each session that emitted cost about 75 µs per unit of work (SQLAlchemy builds the instance's
# own dispatch), more than the outbox row's insert. A session that commits twice writes both batches.
@event.listens_for(OrmSession, "before_commit")
def _write_outbox(session: Session) -> None:
    rows = session.info.pop("outbox_rows", None)
    if rows:
        written = utcnow()  # the rows' created_at: when the transaction wrote them, one value for all
        insert_rows(session, OUTBOX, OUTBOX_COLUMNS, [(*row, written) for row in rows])
        waker = _wakers.get(str(session.get_bind().engine.url))
        if waker is not None:
            session.info["outbox_wake"] = waker


@event.listens_for(OrmSession, "after_commit")
def _wake_relay(session: Session) -> None:
    # A savepoint's release fires before_commit and after_commit too: its rows are written then, but committed only
    # with the outermost transaction, so the relay is woken only then (woken at the release, it found nothing and
    # slept its interval). A rollback leaves the wake in place: one needless wake, never a missed one.
    if session.in_nested_transaction():
        return
    waker = session.info.pop("outbox_wake", None)
    if waker is not None:
        waker()


@event.listens_for(OrmSession, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop("outbox_rows", None)


class OutboxRelay:
    """Publishes unpublished outbox rows in batches and marks them sent; keeps them for a while.

    A crash between XADD and the mark republishes the rows; consumers' inboxes absorb them. Published
    rows stay for `keep_published`: when the server loses entries (see marks.py) they go out again.

    The running relay (`run`) publishes a commit's rows at once, and then, while less than a full batch comes
    in, no sooner than `coalesce_ms` after its last publish: under load its consumers get fewer, larger
    batches. It marks what it published later (MARK_AFTER_S); until then it neither publishes nor counts
    those rows again.
    """

    def __init__(
        self,
        db: Database,
        redis: Redis,
        *,
        service: str,
        batch_size: int = 500,
        interval_ms: int = 200,
        keep_published: timedelta = timedelta(hours=1),
        outbox: str | None = None,
        coalesce_ms: int = 0,
    ) -> None:
        self.db, self.redis, self.service = db, redis, service
        self.batch_size, self.interval = batch_size, interval_ms / 1000
        self.coalesce = coalesce_ms / 1000
        self.keep_published = keep_published
        self.marks = Marks(redis, outbox or service, uuid.uuid4().hex)
        self.recovering = False  # rows the server lost are being published again
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked_at = 0.0
        self._batch_mark = utcnow()
        self._unmarked: list[tuple[datetime, list[int]]] = []  # published, not marked yet: (mark, ids), oldest first
        self._unmarked_ids: frozenset[int] = frozenset()  # replaced, never changed: other threads read it
        self._unmarked_since = 0.0
        self._marking = asyncio.Lock()  # the loop and a reconcile (the bus guard's task) may mark at once

    def wake(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _unsent(self, q: Any) -> Any:
        """Narrow a query to rows not on the bus yet: unpublished, and not published awaiting their mark."""
        q = q.where(OUTBOX.c.published_at.is_(None))
        published = self._unmarked_ids
        return q.where(OUTBOX.c.id.not_in(published)) if published else q

    def _pending(self) -> list[Any]:
        q = self._unsent(select(OUTBOX.c.id, OUTBOX.c.stream, OUTBOX.c.body))
        with self.db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            return list(conn.execute(q.order_by(OUTBOX.c.id).limit(self.batch_size)))

    def _mark(self, ids: list[int]) -> None:
        """Mark rows published at the mark their batch left on the server."""
        self._mark_batches([(self._batch_mark, ids)])

    def _mark_batches(self, batches: list[tuple[datetime, list[int]]]) -> None:
        """Mark published batches, each at the mark it left on the server, in one transaction."""
        with self.db.engine.begin() as conn:  # Core: no ORM session has these rows to synchronise
            for mark, ids in batches:
                for chunk in in_chunks(ids):
                    conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(chunk)).values(published_at=mark))

    async def mark_published(self) -> None:
        """Mark what was published and not marked yet (before rows are compared with the server's, or left)."""
        async with self._marking:
            batches = list(self._unmarked)
            if not batches:
                return
            await asyncio.to_thread(self._mark_batches, batches)
            # Only now, and in the loop's thread: until the commit these rows neither go out again nor count.
            del self._unmarked[:len(batches)]
            self._unmarked_ids = frozenset(i for _, ids in self._unmarked for i in ids)
            self._unmarked_since = time.monotonic()  # for what was published while these were marked

    def unpublish(self, after: datetime | None) -> int:
        """Mark rows published after `after` (None: every kept row) unpublished again; returns how many."""
        return republish_since(self.db, after, inclusive=False)

    async def reconcile(self) -> int:
        """Compare the server's marks with the outbox; republish what the server lost. Returns that count."""
        await self.mark_published()
        newest = await self.marks.newest()
        lost = await asyncio.to_thread(self.unpublish, newest)
        if lost:
            self.recovering = True
            log.warning("the bus lost %s events of %s published after %s; publishing them again",
                        lost, self.service, newest.isoformat() if newest else "its start")
        await self.marks.adopt(newest, forget_before=utcnow() - self.keep_published)
        return lost

    async def intact(self) -> bool:
        """The server holds what this relay published, and nothing lost waits to go out again."""
        return not self.recovering and await self.marks.intact()

    def backlog(self) -> int:
        """Rows not on the bus yet (published rows whose mark is still to be written do not count)."""
        q = self._unsent(select(func.count()).select_from(OUTBOX))
        with self.db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            return int(conn.execute(q).scalar_one())

    def _purge(self) -> None:
        with self.db.session() as s:
            cutoff = utcnow() - self.keep_published
            s.exec(delete(OutboxEvent).where(OutboxEvent.published_at < cutoff))  # type: ignore
            s.commit()

    async def publish(self, rows: list[Any], mark: datetime) -> bool:
        """XADD a batch and our mark in one script, with a producer span per traced event.

        `rows`: (id, stream, body), as `_pending` reads them. False: the server lost our previous mark; nothing
        was appended.
        """
        # Rows unpacked once: a Row's attribute by name costs about 0.5 µs, four of them per event relayed.
        items = [(stream, body) for _, stream, body in rows]
        if not await self.marks.publish(mark, items):
            return False
        for stream, count in Counter(stream for stream, _ in items).items():
            PUBLISHED.labels(stream).inc(count)
        for stream, body in items:
            if '"traceparent":"' in body:
                env = Envelope.model_validate_json(body)
                with tracer.start_span(
                    f"publish {env.type}",
                    context=context_from(env.trace.model_dump()),
                    kind=trace.SpanKind.PRODUCER,
                    attributes={"messaging.system": "redis", "messaging.destination.name": stream,
                                "messaging.message.id": env.event_id},
                ):
                    pass
        return True

    async def run_once(self, *, mark_later: bool = False) -> int:
        """Publish one batch; returns how many rows went out.

        The batch is marked published before this returns; with `mark_later`, by `mark_published`.
        """
        if self.marks.expected is None:
            await self.reconcile()
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            self.recovering = False
            if time.monotonic() - self._checked_at >= CHECK_EVERY_S:  # idle: has the server lost data?
                self._checked_at = time.monotonic()
                if not await self.marks.intact():
                    await self.reconcile()
            return 0
        mark = self.marks.next_mark(utcnow())
        if not await self.publish(rows, mark):
            await self.reconcile()  # the lost rows come first again, in their order
            return 0
        self._batch_mark = mark
        ids = [row_id for row_id, _, _ in rows if row_id is not None]
        if mark_later:
            if not self._unmarked:
                self._unmarked_since = time.monotonic()
            self._unmarked.append((mark, ids))
            self._unmarked_ids = self._unmarked_ids.union(ids)
        else:
            await asyncio.to_thread(self._mark, ids)
        return len(rows)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        _wakers[self.db.url] = self.wake
        purge_every, ticks = 300, 0
        try:
            while not self._stopping:
                try:
                    sent = await self.run_once(mark_later=True)
                    published_at = time.monotonic()
                    if self._unmarked and (len(self._unmarked_ids) >= self.batch_size
                                           or published_at - self._unmarked_since >= MARK_AFTER_S):
                        await self.mark_published()
                    ticks += 1
                    if ticks % purge_every == 0:
                        await asyncio.to_thread(self._purge)
                        OUTBOX_BACKLOG.labels(self.service).set(await asyncio.to_thread(self.backlog))
                except asyncio.CancelledError:
                    raise
                except RedisError as exc:
                    raise_if_cancelled()
                    log.warning("outbox relay of %s cannot reach Redis (%s); retrying", self.service, exc)
                    sent = 0
                    await asyncio.sleep(min(5.0, self.interval * 5))
                except Exception:
                    log.exception("outbox relay of %s failed; retrying", self.service)
                    sent = 0
                    await asyncio.sleep(min(5.0, self.interval * 5))
                if sent < self.batch_size:
                    self._wake.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.interval)
                    if sent and self.coalesce and not self._stopping:  # what commits meanwhile goes out with it
                        await asyncio.sleep(max(0.0, published_at + self.coalesce - time.monotonic()))
        finally:
            _wakers.pop(self.db.url, None)
            with suppress(Exception):  # else the next start publishes them again (the inboxes absorb them)
                await self.mark_published()

    async def drain(self) -> None:
        """Publish everything still pending (used on a clean stop)."""
        await self.mark_published()
        while await self.run_once():
            pass

    def stop(self) -> None:
        self._stopping = True
        self.wake()


def service_relay(db: Database, redis: Redis, settings: Settings, service: str) -> OutboxRelay:
    """A service's outbox relay as a node runs it, in whichever process relays that outbox: its loss marks on
    the bus are named by node and service, so the node and its ingest process (runtime/ingest_process.py)
    keep the same ones."""
    return OutboxRelay(db, redis, service=service, batch_size=settings.batch_size,
                       interval_ms=settings.outbox_interval_ms, outbox=f"{settings.node_id}:{service}",
                       keep_published=timedelta(seconds=settings.outbox_retention_s),
                       coalesce_ms=settings.outbox_coalesce_ms)


def republish_since(db: Database, since: datetime | None, *, inclusive: bool = True) -> int:
    """Mark kept rows published since `since` (None: all of them) unpublished: the relay sends them again."""
    with db.session() as s:
        q = update(OUTBOX).where(OUTBOX.c.published_at.is_not(None))
        if since is not None:
            q = q.where(OUTBOX.c.published_at >= since if inclusive else OUTBOX.c.published_at > since)
        count = s.execute(q.values(published_at=None)).rowcount  # type: ignore[attr-defined]
        s.commit()
    return int(count or 0)
