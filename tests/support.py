"""A small producer/consumer pair on the real bus, counting effects, for bus tests."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlmodel import Field, Session, SQLModel

from shared.bus import (
    BUS_TABLES,
    Consumer,
    ConsumerOptions,
    OutboxRelay,
    Subscription,
    batched,
    emit,
    ensure_group,
)
from shared.db import Database
from shared.events import Envelope, new_event_id
from shared.events.cases import ConsultationRecorded

STREAM = "lotse:events:cases"
GROUP = "effects"


class Effect(SQLModel, table=True):
    """One row per handler effect: a double effect shows up as two rows for one event."""

    __tablename__ = "test_effect"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True)
    minutes: int


def consultation(minutes: int = 30) -> ConsultationRecorded:
    return ConsultationRecorded(case_id="c-" + new_event_id(), consultation_id=new_event_id(),
                                manager="m1", held_on=date(2026, 11, 2), duration_minutes=minutes,
                                mode="office", topics=["language"])


def _url(where: Path | str) -> str:
    """A SQLite file's path, or a database URL as it is (the PostgreSQL path of bench/bus.py)."""
    return where if isinstance(where, str) and "://" in where else f"sqlite:///{where}"


def producer_db(where: Path | str) -> Database:
    db = Database(_url(where), BUS_TABLES)
    db.create_all()
    return db


def consumer_db(where: Path | str) -> Database:
    db = Database(_url(where), [Effect.__table__, *BUS_TABLES])  # type: ignore[attr-defined]
    db.create_all()
    return db


def emit_many(db: Database, n: int, minutes: Callable[[int], int] = lambda i: 30) -> list[str]:
    """Commit n ConsultationRecorded events to the producer's outbox; returns their event ids."""
    ids = []
    with db.session() as s:
        for i in range(n):
            env = emit(s, consultation(minutes(i)), stream=STREAM, tenant="08111000", node="test",
                       aggregate_id=f"case-{i}")
            ids.append(env.event_id)
        s.commit()
    return ids


def effects(db: Database) -> Counter[str]:
    """Count effects per event with a read-only WAL reader (never waits on the consumer's lock)."""
    path = db.url.split("///", 1)[1]
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return Counter(row[0] for row in conn.execute("SELECT event_id FROM test_effect"))


def make_handler(fail: Callable[[Envelope, Any], bool] = lambda e, p: False, delay: float = 0.0):
    def on_consultation(session: Session, env: Envelope, payload: ConsultationRecorded) -> None:
        if delay:
            time.sleep(delay)
        if fail(env, payload):
            raise RuntimeError(f"handler refuses {payload.duration_minutes} minutes")
        session.add(Effect(event_id=env.event_id, minutes=payload.duration_minutes))

    return on_consultation


def make_batch_handler(fail: Callable[[Envelope, Any], bool] = lambda e, p: False,
                       runs: list[int] | None = None) -> Any:
    """A batch handler: one executemany per run; raises for the whole run if any event in it is refused."""
    table = Effect.__table__  # type: ignore[attr-defined]

    @batched
    def on_consultations(session: Session, run: list[tuple[Envelope, ConsultationRecorded]]) -> None:
        if runs is not None:
            runs.append(len(run))
        session.execute(table.insert(), [{"event_id": env.event_id, "minutes": p.duration_minutes} for env, p in run])
        for env, p in run:
            if fail(env, p):
                raise RuntimeError(f"handler refuses {p.duration_minutes} minutes")

    return on_consultations


class BusPair:
    """Outbox relay + one FastStream consumer + reclaimer, in this event loop."""

    def __init__(self, redis_url: str, tmp: Path, handler: Any = None, *, consumer: str = "c1",
                 opts: ConsumerOptions | None = None, group: str = GROUP) -> None:
        self.url = redis_url
        self.producer = producer_db(tmp / "producer.db")
        self.consumer_db = consumer_db(tmp / "consumer.db")
        self.redis = Redis.from_url(redis_url)
        self.opts = opts or ConsumerOptions(batch_size=50, block_ms=50, reclaim_idle_ms=300,
                                            reclaim_interval_ms=100, max_deliveries=3)
        self.sub = Subscription(STREAM, group, {"ConsultationRecorded": handler or make_handler()},
                                db=self.consumer_db)
        self.consumer = Consumer(self.sub, self.redis, consumer, self.opts)
        self.relay = OutboxRelay(self.producer, self.redis, service="test", batch_size=100,
                                 interval_ms=50)
        self.broker = RedisBroker(redis_url, logger=None)
        self.consumer.attach(self.broker)
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> BusPair:
        await ensure_group(self.redis, STREAM, self.sub.group)
        await self.broker.start()
        self.tasks = [asyncio.create_task(self.relay.run()),
                      asyncio.create_task(self.consumer.run_reclaimer())]
        return self

    async def stop(self) -> None:
        self.consumer.stop()
        self.relay.stop()
        await self.broker.stop()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.redis.aclose()


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy (awaiting it if needed); fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)
