"""Transactional outbox: `emit` in the service's transaction; `OutboxRelay` publishes in batches."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, event, func, insert, select, update
from sqlmodel import Session

from shared.db import READ_ONLY, Database
from shared.events import Contract, Envelope, envelope_for, utcnow
from shared.telemetry import context_from, current_trace_context, tracer

from .cancellation import raise_if_cancelled
from .metrics import OUTBOX_BACKLOG, PUBLISHED
from .tables import OutboxEvent

log = logging.getLogger(__name__)
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
OUTBOX_INSERT = insert(OUTBOX)  # built once: the compiled statement is cached
_wakers: dict[str, Any] = {}  # database URL -> callable waking that database's relay


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
    if not session.info.get("outbox_listening"):
        # Once per session, for every commit of it: a session that commits twice keeps both batches.
        session.info["outbox_listening"] = True
        event.listen(session, "before_commit", _write_outbox)
        event.listen(session, "after_rollback", _drop_outbox)
    rows = session.info.setdefault("outbox_rows", [])
    rows.append({"event_id": env.event_id, "stream": stream, "body": env.to_json(),
                 "created_at": env.occurred_at})


def _write_outbox(session: Session) -> None:
    rows = session.info.pop("outbox_rows", None)
    if rows:
        session.execute(OUTBOX_INSERT, rows)
        waker = _wakers.get(str(session.get_bind().engine.url))
        if waker is not None:
            event.listen(session, "after_commit", lambda s: waker(), once=True)


def _drop_outbox(session: Session) -> None:
    session.info.pop("outbox_rows", None)


class OutboxRelay:
    """Publishes unpublished outbox rows with pipelined XADD and marks them sent.

    A crash between XADD and the mark republishes the rows; consumers' inboxes absorb them.
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
    ) -> None:
        self.db, self.redis, self.service = db, redis, service
        self.batch_size, self.interval = batch_size, interval_ms / 1000
        self.keep_published = keep_published
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _pending(self) -> list[Any]:
        with self.db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            return list(conn.execute(
                select(OUTBOX.c.id, OUTBOX.c.stream, OUTBOX.c.body)
                .where(OUTBOX.c.published_at.is_(None)).order_by(OUTBOX.c.id).limit(self.batch_size)))

    def _mark(self, ids: list[int]) -> None:
        with self.db.session() as s:
            now = utcnow()
            s.exec(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=now))  # type: ignore
            s.commit()

    def backlog(self) -> int:
        with self.db.session() as s:
            q = select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.published_at.is_(None)  # type: ignore[union-attr]
            )
            return int(s.exec(q).scalar_one())  # type: ignore[call-overload]

    def _purge(self) -> None:
        with self.db.session() as s:
            cutoff = utcnow() - self.keep_published
            s.exec(delete(OutboxEvent).where(OutboxEvent.published_at < cutoff))  # type: ignore
            s.commit()

    async def publish(self, rows: list[Any]) -> None:
        """XADD a batch in one pipeline round trip, with a producer span per traced event."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.xadd(row.stream, {"event": row.body})
            await pipe.execute()
        for row in rows:
            PUBLISHED.labels(row.stream).inc()
            if '"traceparent":"' in row.body:
                env = Envelope.model_validate_json(row.body)
                with tracer.start_span(
                    f"publish {env.type}",
                    context=context_from(env.trace.model_dump()),
                    kind=trace.SpanKind.PRODUCER,
                    attributes={"messaging.system": "redis", "messaging.destination.name": row.stream,
                                "messaging.message.id": env.event_id},
                ):
                    pass

    async def run_once(self) -> int:
        """Publish one batch; returns how many rows went out."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        await self.publish(rows)
        await asyncio.to_thread(self._mark, [r.id for r in rows if r.id is not None])
        return len(rows)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        _wakers[self.db.url] = self.wake
        purge_every, ticks = 300, 0
        try:
            while not self._stopping:
                try:
                    sent = await self.run_once()
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
        finally:
            _wakers.pop(self.db.url, None)

    async def drain(self) -> None:
        """Publish everything still pending (used on a clean stop)."""
        while await self.run_once():
            pass

    def stop(self) -> None:
        self._stopping = True
        self.wake()
