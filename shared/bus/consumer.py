"""Consumer groups: batch reads through FastStream, inbox dedup, ack after commit, reclaim, dead letters."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisMessage
from opentelemetry import context as otel_context
from opentelemetry import trace
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select, text
from sqlmodel import Session

from shared.db import Database, insert_rows, is_infrastructure
from shared.events import Contract, Envelope, UnknownEvent, latest, parse_payload, utcnow
from shared.telemetry import context_from, tracer

from .deadletter import dead_letter, dead_letter_fields
from .metrics import CONSUMED, DUPLICATES, FAILED
from .reclaim import Reclaiming
from .tables import InboxEntry

log = logging.getLogger(__name__)

Handler = Callable[[Session, Envelope, Any], None]
INBOX = InboxEntry.__table__  # type: ignore[attr-defined]
INBOX_COLUMNS = ("group", "event_id", "processed_at")


# On PostgreSQL the batch's ids are unnested and joined to the inbox's key: an index lookup per id, however stale the
# table's statistics. `event_id IN (...)` (or `= ANY(...)`) was planned, while the statistics still described a small
# table (a new node, a catch-up), as a scan of all the group's rows, each compared with every id of the list:
# 100-340 ms per batch of 500 at 5,000-30,000 inbox rows, growing with the table; joined, 1.5-6 ms.
_HANDLED_PG = text(f'SELECT i.event_id FROM unnest(CAST(:ids AS text[])) AS x(event_id) JOIN {INBOX.name} i '
                   'ON i."group" = :group AND i.event_id = x.event_id')


def handled(session: Session, group: str, ids: list[str]) -> set[str]:
    """Which of these event ids the group has handled (its inbox holds them)."""
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return set(session.execute(_HANDLED_PG, {"ids": ids, "group": group}).scalars())
    return set(session.execute(select(INBOX.c.event_id).where(
        INBOX.c.group == group, INBOX.c.event_id.in_(ids))).scalars())


class Batched:
    """A handler that takes a run of consecutive events of its type at once: one statement per table.

    The consumer calls it with every run of its type in a batch, in stream order, inside the batch's
    transaction. If the run fails, the batch is redone with a savepoint per event and the handler is
    called with one event at a time, so one bad event spares the others. Calling it like a plain handler
    handles one event.
    """

    def __init__(self, handle: Callable[[Session, list[tuple[Envelope, Any]]], None]) -> None:
        self.handle = handle
        functools.update_wrapper(self, handle)

    def __call__(self, session: Session, env: Envelope, payload: Any) -> None:
        self.handle(session, [(env, payload)])


def batched(handle: Callable[[Session, list[tuple[Envelope, Any]]], None]) -> Batched:
    """Declare a batch handler (see `Batched`)."""
    return Batched(handle)


def for_tenants(tenants: Iterable[str]) -> Callable[[Handler], Handler]:
    """Wrap handlers: an event for a tenant this node does not serve is logged and skipped (retrying never helps)."""
    served = frozenset(tenants)

    def served_here(env: Envelope) -> bool:
        if env.tenant in served:
            return True
        log.warning("ignoring %s %s for tenant %s, not served here", env.type, env.event_id, env.tenant)
        return False

    def wrap(handler: Handler) -> Handler:
        if isinstance(handler, Batched):
            inner = handler.handle

            def handle_run(session: Session, run: list[tuple[Envelope, Any]]) -> None:
                if ours := [(env, payload) for env, payload in run if served_here(env)]:
                    inner(session, ours)

            functools.update_wrapper(handle_run, inner)
            return Batched(handle_run)

        @functools.wraps(handler)
        def handle(session: Session, env: Envelope, payload: Any) -> None:
            if served_here(env):
                handler(session, env, payload)

        return handle

    return wrap


Entry = tuple[bytes, dict[bytes, bytes]]


def consumer_name(node_id: str) -> str:
    """Unique per process, so a restarted process never inherits a dead one's pending entries."""
    return f"{node_id}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class Subscription:
    """A consumer group on a stream: which event types it handles, in which database."""

    stream: str
    group: str
    handlers: Mapping[str, Handler]
    db: Database | None = None
    description: str = ""


@dataclass(frozen=True)
class ConsumerOptions:
    batch_size: int = 500
    block_ms: int = 200
    reclaim_idle_ms: int = 30_000
    reclaim_interval_ms: int = 1_000
    max_deliveries: int = 5


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the group at the stream's start (FastStream would create it at `$` and skip entries)."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _raw_entries_parser(message: dict[str, Any], original: Any) -> Any:
    """Let FastStream build the message without decoding entries; we validate each one ourselves.

    FastStream's batch parser JSON-encodes every entry and fails the whole batch on one bad entry.
    """
    parsed = await original({**message, "data": []})
    parsed.raw_message = message
    return parsed


def _unknown(env: Envelope) -> str | None:
    """Why no contract describes this event (a type nobody registered, a version newer than ours), else None."""
    try:
        newest = latest(env.type).version
    except UnknownEvent:
        return f"unknown event type {env.type!r}: no service of this version registers it"
    return f"{env.type} v{env.version} is newer than v{newest} known here" if env.version > newest else None


class _BatchAborted(Exception):
    """A handler failed on the fast path; the batch is redone with a savepoint per event."""

    def __init__(self, failure: tuple[bytes, str] | None = None) -> None:
        super().__init__(failure)
        self.failure = failure


class Consumer(Reclaiming):
    """Runs one subscription in this process under a unique consumer name."""

    def __init__(self, sub: Subscription, redis: Redis, name: str, opts: ConsumerOptions) -> None:
        if sub.db is None:
            raise ValueError(f"subscription {sub.group} has no database")
        self.sub, self.redis, self.name, self.opts = sub, redis, name, opts
        self.db: Database = sub.db
        self.errors_key = f"lotse:errors:{sub.stream}:{sub.group}"
        self._stopping = False
        self._busy = asyncio.Lock()
        self._subscriber: Any = None
        self.stalled = False  # waiting for its database: the reclaimer leaves the group's entries alone

    # -- wiring -------------------------------------------------------------------------------
    def attach(self, broker: RedisBroker) -> None:
        """Declare the FastStream subscriber: bounded batches, manual ack (never ACK/ACK_FIRST)."""
        stream = StreamSub(
            self.sub.stream, group=self.sub.group, consumer=self.name, batch=True,
            max_records=self.opts.batch_size, polling_interval=self.opts.block_ms,
        )
        subscriber = broker.subscriber(
            stream=stream, ack_policy=AckPolicy.MANUAL, parser=_raw_entries_parser,
            title=f"{self.sub.group}:{self.sub.stream}", description=self.sub.description or None,
        )

        async def on_batch(msg: RedisMessage) -> None:
            raw: Any = msg.raw_message  # the batch as XREADGROUP returned it (our parser keeps it raw)
            await self.handle(list(zip(raw["message_ids"], raw["data"], strict=True)), None)

        subscriber(on_batch)
        self._subscriber = subscriber

    def reading(self) -> bool:
        """False once FastStream stopped the subscriber (it does so for good on NOGROUP)."""
        return self._stopping or self._subscriber is None or bool(self._subscriber.running)

    async def revive(self) -> None:
        """Start a stopped subscriber again, its group declared first at the stream's start."""
        await ensure_group(self.redis, self.sub.stream, self.sub.group)
        if not self.reading():
            log.warning("consumer group %s on %s reads again", self.sub.group, self.sub.stream)
            await self._subscriber.start()

    # -- processing ---------------------------------------------------------------------------
    async def handle(self, entries: list[Entry], deliveries: dict[bytes, int] | None) -> None:
        """Process entries: commit effects + inbox in one transaction, then XACK; DLQ the hopeless."""
        async with self._busy:
            await self._handle(entries, deliveries)

    async def _handle(self, entries: list[Entry], deliveries: dict[bytes, int] | None) -> None:
        sub = self.sub
        valid: list[tuple[bytes, Envelope, Contract]] = []
        acked: list[bytes] = []
        dead: list[dict[str, str]] = []
        for entry_id, fields in entries:
            if fields is None:  # deleted while pending
                acked.append(entry_id)
                continue
            try:
                env = Envelope.model_validate_json(fields[b"event"])
            except (KeyError, ValidationError, ValueError) as exc:
                dead.append(self._dead(entry_id, fields, f"malformed envelope: {exc}", deliveries))
                continue
            if env.type not in sub.handlers:
                unknown = _unknown(env)
                if unknown and await self._first_to_see(entry_id):  # one dead letter, not one per group
                    dead.append(self._dead(entry_id, fields, unknown, deliveries, env))
                else:
                    acked.append(entry_id)  # another group's business
                continue
            try:
                valid.append((entry_id, env, parse_payload(env)))
            except UnknownEvent as exc:  # a version newer than ours: one dead letter among all groups
                if await self._first_to_see(entry_id):
                    dead.append(self._dead(entry_id, fields, f"malformed payload: {exc}", deliveries, env))
                else:
                    acked.append(entry_id)
            except ValidationError as exc:
                dead.append(self._dead(entry_id, fields, f"malformed payload: {exc}", deliveries, env))
        failures: dict[bytes, str] = {}
        if valid:
            try:
                done, failures = await self._process_until_stored(valid)
            except Exception as exc:  # the transaction itself failed: everything stays pending
                log.exception("batch of %s failed", sub.group)
                done, failures = [], {eid: f"batch failed: {exc!r}" for eid, _, _ in valid}
            acked.extend(done)
        if failures:
            FAILED.labels(sub.group).inc(len(failures))
            by_id = dict(entries)
            envs = {eid: env for eid, env, _ in valid}
            retry: dict[bytes, str] = {}
            for eid, error in failures.items():
                count = (deliveries or {}).get(eid, 1)
                if count >= self.opts.max_deliveries:
                    dead.append(self._dead(eid, by_id[eid], error, deliveries, envs[eid]))
                else:
                    retry[eid] = error
            if retry:
                await self.redis.hset(self.errors_key, mapping=retry)  # type: ignore[misc]
        if dead:
            await dead_letter(self.redis, dead, sub.group)
        if acked:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xack(sub.stream, sub.group, *acked)
                if deliveries:
                    pipe.hdel(self.errors_key, *acked)
                await pipe.execute()

    async def _process_until_stored(
        self, valid: list[tuple[bytes, Envelope, Contract]]
    ) -> tuple[list[bytes], dict[bytes, str]]:
        """A database that fails (locked, full, read-only, gone) is waited for: that is no delivery attempt.

        Only handler errors on a healthy database count towards dead letters. On stop, the batch stays
        pending for the next process.
        """
        wait = 0.1
        try:
            while True:
                try:
                    return await asyncio.to_thread(self._process, valid)
                except Exception as exc:
                    if not is_infrastructure(exc):
                        raise
                    if self._stopping:
                        return [], {}
                    self.stalled = True
                    log.warning("database of %s unavailable (%s); retrying the batch in %.1fs",
                                self.sub.group, str(exc).splitlines()[0][:200], wait)
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, 5.0)
        finally:
            self.stalled = False

    async def _first_to_see(self, entry_id: bytes) -> bool:
        """Claim an entry nobody can handle for this group's dead letters; False if another group did."""
        key, field = f"lotse:unknown:{self.sub.stream}", entry_id.decode()
        if await self.redis.hsetnx(key, field, self.sub.group):  # type: ignore[misc]
            return True
        owner = await self.redis.hget(key, field)  # type: ignore[misc]
        return bool(owner == self.sub.group.encode())  # ours already: a retry after a failed dead-lettering

    def _dead(
        self, entry_id: bytes, fields: dict[bytes, bytes], error: str,
        deliveries: dict[bytes, int] | None, env: Envelope | None = None,
    ) -> dict[str, str]:
        return dead_letter_fields(
            stream=self.sub.stream, group=self.sub.group, entry_id=entry_id, fields=fields,
            error=error, deliveries=(deliveries or {}).get(entry_id, 1),
            event_id=env.event_id if env else "", type_=env.type if env else "",
        )

    def _process(
        self, batch: list[tuple[bytes, Envelope, Contract]]
    ) -> tuple[list[bytes], dict[bytes, str]]:
        """Effects + inbox rows for a batch in one transaction.

        Fast path: no savepoints, one bulk inbox insert. If any handler fails, the transaction is
        rolled back and the batch redone with a savepoint per event, so one failure spares the rest.
        """
        try:
            return self._run(batch, isolate=False)
        except _BatchAborted as aborted:
            return self._run(batch, isolate=True, known=aborted.failure)

    def _run(
        self, batch: list[tuple[bytes, Envelope, Contract]], *, isolate: bool,
        known: tuple[bytes, str] | None = None,
    ) -> tuple[list[bytes], dict[bytes, str]]:
        group = self.sub.group
        done: list[bytes] = []
        failures: dict[bytes, str] = {}
        with self.db.session() as s:
            seen = handled(s, group, list({env.event_id for _, env, _ in batch}))
            todo: list[tuple[bytes, Envelope, Contract]] = []
            for item in batch:
                entry_id, env, _ = item
                if env.event_id in seen:  # handled before, or earlier in this batch
                    done.append(entry_id)
                elif known is not None and entry_id == known[0]:
                    failures[entry_id] = known[1]  # already failed on the fast path: not run twice
                else:
                    seen.add(env.event_id)
                    todo.append(item)
            duplicates = len(done)
            for run in self._runs(todo, isolate):
                with self._span([env for _, env, _ in run]) as span:
                    try:
                        if isolate:
                            with s.begin_nested():
                                self._call(s, run)
                                s.flush()
                        else:
                            self._call(s, run)
                    except Exception as exc:
                        if is_infrastructure(exc):
                            raise  # the database failed, not the handler: no attempt of these events
                        if span is not None:
                            span.record_exception(exc)
                            span.set_status(trace.Status(trace.StatusCode.ERROR))
                        error = f"{type(exc).__name__}: {exc}"
                        if not isolate:  # redo with a savepoint per event; a lone event's failure is known
                            raise _BatchAborted((run[0][0], error) if len(run) == 1 else None) from exc
                        failures[run[0][0]] = error
                        continue
                done.extend(entry_id for entry_id, _, _ in run)
            new_ids = [env.event_id for entry_id, env, _ in todo if entry_id not in failures]
            now = utcnow()
            insert_rows(s, INBOX, INBOX_COLUMNS, [(group, i, now) for i in new_ids])
            try:
                s.commit()
            except Exception as exc:
                if not isolate and not is_infrastructure(exc):  # a deferred failure: find the culprit
                    raise _BatchAborted from exc
                raise
        CONSUMED.labels(group).inc(len(new_ids))
        DUPLICATES.labels(group).inc(duplicates)
        return done, failures

    def _runs(
        self, todo: list[tuple[bytes, Envelope, Contract]], isolate: bool
    ) -> Iterator[list[tuple[bytes, Envelope, Contract]]]:
        """Consecutive events of one type with a batch handler form a run; every other event is its own."""
        run: list[tuple[bytes, Envelope, Contract]] = []
        for item in todo:
            if run and (isolate or item[1].type != run[0][1].type
                        or not isinstance(self.sub.handlers[item[1].type], Batched)):
                yield run
                run = []
            run.append(item)
        if run:
            yield run

    def _call(self, s: Session, run: list[tuple[bytes, Envelope, Contract]]) -> None:
        handler = self.sub.handlers[run[0][1].type]
        if isinstance(handler, Batched):
            handler.handle(s, [(env, payload) for _, env, payload in run])
        else:
            handler(s, run[0][1], run[0][2])

    @contextmanager
    def _span(self, envs: list[Envelope]) -> Iterator[trace.Span | None]:
        """A consumer span: for one event, a child of the publishing request's span (when traced); for a run
        of a batch handler, one span linked to each traced event's publisher (OpenTelemetry's batch shape)."""
        traced = [env for env in envs if env.trace.traceparent]
        if not traced:
            yield None
            return
        attributes: dict[str, Any] = {"messaging.system": "redis", "messaging.consumer.group.name": self.sub.group,
                                      "messaging.destination.name": self.sub.stream}
        if len(envs) == 1:
            parent, links = context_from(envs[0].trace.model_dump()), None
            attributes["messaging.message.id"] = envs[0].event_id
        else:
            parent = otel_context.Context()
            links = [trace.Link(trace.get_current_span(context_from(env.trace.model_dump())).get_span_context())
                     for env in traced]
            attributes["messaging.batch.message_count"] = len(envs)
        span = tracer.start_span(f"consume {envs[0].type}", context=parent, kind=trace.SpanKind.CONSUMER,
                                 attributes=attributes, links=links)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        finally:
            otel_context.detach(token)
            span.end()

    def stop(self) -> None:
        self._stopping = True
