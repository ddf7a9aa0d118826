"""Federation: many municipal nodes feeding one state node.

Run: .venv/bin/python bench/federation.py [--nodes 1100] [--rate 200] [--seconds 20] [--backlog 100000] [--split]

Each simulated municipal node has its own Ed25519 key, tenant and inbound stream on the state
server, and sends exactly what a node's relay sends (the contract's state projection, pseudonymised
with its own HMAC key, signed). The state node is a real `lotse node up` process (level state,
services cases + federation): ingest verifies and republishes, the cases service builds its read
model. Latency is municipal commit (envelope occurred_at) -> state read model commit (inbox row).
Catch-up: the state node is stopped while a backlog accumulates, then restarted; the baseline is a
raw redis-py copy (XRANGE + pipelined XADD) of the same entries in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from shared.db import Database  # noqa: E402
from shared.events import envelope_for, new_event_id  # noqa: E402
from shared.events.cases import ConsultationRecorded  # noqa: E402
from shared.federation.crypto import sign  # noqa: E402
from shared.federation.keys import inbound_stream  # noqa: E402
from shared.federation.models import FEDERATION_TABLES, RegisteredNode  # noqa: E402
from shared.federation.relay import project  # noqa: E402
from shared.runtime.embedded import EmbeddedServer, free_port  # noqa: E402

TOPICS = ["language", "work", "housing", "school", "education", "health"]


class SimNode:
    def __init__(self, i: int) -> None:
        self.node_id = f"sim-{i:04d}"
        self.tenant = f"08{100000 + i:06d}"
        self.key = Ed25519PrivateKey.generate()
        self.hmac_key = secrets.token_bytes(32)
        self.stream = inbound_stream(self.node_id)

    def pseudonym(self, value: str) -> str:
        return hmac.new(self.hmac_key, value.encode(), hashlib.sha256).hexdigest()

    def entry(self, rng: random.Random) -> tuple[str, dict[str, str], float]:
        """One relay-ready entry: projected, pseudonymised and signed (as FederationRelay does)."""
        case = f"case-{rng.randint(1, 40)}"
        env = envelope_for(ConsultationRecorded(
            case_id=case, consultation_id=new_event_id(), manager="m", held_on=date(2026, 11, 2),
            duration_minutes=rng.choice([30, 45, 60]), mode="office", topics=rng.sample(TOPICS, 2)),
            tenant=self.tenant, node=self.node_id, aggregate_id=case)
        body = project(env, self.pseudonym, self.node_id).to_json()
        return env.event_id, {"event": body, "sig": sign(self.key, body.encode())}, env.occurred_at.timestamp()


def register_all(db_path: Path, nodes: list[SimNode]) -> None:
    from cryptography.hazmat.primitives import serialization

    db = Database(f"sqlite:///{db_path}", FEDERATION_TABLES)
    db.create_all()
    with db.session() as s:
        for n in nodes:
            raw = n.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            import base64

            s.add(RegisteredNode(node_id=n.node_id, tenants=[n.tenant], public_key=base64.b64encode(raw).decode(),
                                 acl_user=f"node-{n.node_id}"))
        s.commit()
    db.dispose()


class State:
    """The state node: one `lotse node up` process with ingest and read model, or (split) one process for the
    federation ingest and one for the cases read model, as `lotse node up --services` runs them."""

    def __init__(self, tmp: Path, redis_url: str, split: bool) -> None:
        self.tmp, self.redis_url = tmp, redis_url
        self.parts = [["federation"], ["cases"]] if split else [["cases", "federation"]]
        self.ports = [free_port() for _ in self.parts]
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> State:
        for services, port in zip(self.parts, self.ports, strict=True):
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_") or k == "LOTSE_INGEST_PROCESS"},
                   "LOTSE_NODE_ID": "state", "LOTSE_LEVEL": "state", "LOTSE_TENANTS": "08000000",
                   "LOTSE_SERVICES": ",".join(services), "LOTSE_REDIS_URL": self.redis_url,
                   "LOTSE_DATA_DIR": str(self.tmp / "state"), "LOTSE_HTTP_PORT": str(port),
                   "LOTSE_NODE_SILENCE_S": "100000", "LOTSE_OUTBOX_INTERVAL_MS": "20"}
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "shared.runtime.cli", "node", "up"], env=env, cwd=ROOT,
                stdout=open(self.tmp / "state.log", "ab"), stderr=subprocess.STDOUT))  # noqa: SIM115
        for port in self.ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError((self.tmp / "state.log").read_text()[-2000:])
                time.sleep(0.2)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(60)
        self.procs = []


def read_model(tmp: Path) -> dict[str, float]:
    """event id -> commit time of the state read model's inbox row (group cases)."""
    path = tmp / "state" / "cases.db"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT event_id, processed_at FROM bus_inbox WHERE \"group\" = 'cases'").fetchall()
    return {e: datetime.fromisoformat(t).timestamp() for e, t in rows}


def ingest_times(tmp: Path) -> dict[str, float]:
    """event id -> when the state ingest accepted it (replay guard row)."""
    with sqlite3.connect(f"file:{tmp / 'state' / 'federation.db'}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT event_id, received_at FROM federation_seen").fetchall()
    return {e: datetime.fromisoformat(t).replace(tzinfo=UTC).timestamp() if "+" not in t
            else datetime.fromisoformat(t).timestamp() for e, t in rows}


def count_read_model(tmp: Path) -> int:
    path = tmp / "state" / "cases.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM bus_inbox WHERE \"group\" = 'cases'").fetchone()[0])


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


async def steady(redis: Redis, nodes: list[SimNode], rate: int, seconds: float, rng: random.Random) -> dict[str, float]:
    sent: dict[str, float] = {}
    tick = 0.05
    per_tick = rate * tick
    start = time.monotonic()
    owed = 0.0
    while time.monotonic() - start < seconds:
        owed += per_tick
        async with redis.pipeline(transaction=False) as pipe:
            while owed >= 1:
                node = rng.choice(nodes)
                event_id, fields, occurred = node.entry(rng)
                pipe.xadd(node.stream, fields)
                sent[event_id] = occurred
                owed -= 1
            await pipe.execute()
        await asyncio.sleep(max(0.0, start + tick * (len(sent) / per_tick) - time.monotonic()))
    return sent


async def backlog(redis: Redis, nodes: list[SimNode], n: int, rng: random.Random) -> None:
    for i in range(0, n, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(1000, n - i)):
                node = rng.choice(nodes)
                pipe.xadd(node.stream, node.entry(rng)[1])
            await pipe.execute()


async def raw_copy(redis: Redis, nodes: list[SimNode]) -> tuple[int, float]:
    """Baseline: copy every inbound entry with raw redis-py (XRANGE + pipelined XADD)."""
    start = time.perf_counter()
    copied = 0
    for node in nodes:
        entries = await redis.xrange(node.stream)
        async with redis.pipeline(transaction=False) as pipe:
            for _, fields in entries:
                pipe.xadd("bench:raw-copy", fields)
            await pipe.execute()
        copied += len(entries)
    return copied, time.perf_counter() - start


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1100)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--split", action="store_true",
                    help="the state's ingest and its read model in two processes (lotse node up --services)")
    args = ap.parse_args()
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="lotse-fed-bench-"))
    server = EmbeddedServer(tmp / "redis").start()
    redis = Redis.from_url(server.url)
    nodes = [SimNode(i) for i in range(args.nodes)]
    register_all(tmp / "state" / "federation.db", nodes)
    state = State(tmp, server.url, args.split).start()
    try:
        await asyncio.sleep(4)  # ingest creates its groups on 1,100 inbound streams
        sent = await steady(redis, nodes, args.rate, args.seconds, rng)
        deadline = time.monotonic() + 60
        while len(read_model(tmp)) < len(sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        done = read_model(tmp)
        latencies = [done[e] - t for e, t in sent.items() if e in done]
        ingested = ingest_times(tmp)
        ingest_lat = [ingested[e] - t for e, t in sent.items() if e in ingested]
        state.stop()
        await backlog(redis, nodes, args.backlog, rng)
        copied, raw_s = await raw_copy(redis, nodes)
        await redis.delete("bench:raw-copy")
        before = count_read_model(tmp)
        t0 = time.perf_counter()
        state.start()
        deadline = time.monotonic() + 600
        progress = []
        while count_read_model(tmp) < before + args.backlog and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            if os.environ.get("BENCH_PROGRESS"):
                progress.append((round(time.perf_counter() - t0, 1), len(ingest_times(tmp)), count_read_model(tmp)))
        if progress:
            print("progress (s, ingested, read model):", progress[::8])
        catch_up = time.perf_counter() - t0
        caught = count_read_model(tmp) - before
    finally:
        state.stop()
        await redis.aclose()
        server.stop()
    shape = "split: lotse node up --services federation, and --services cases" if args.split else "one lotse node up"
    print(f"{args.nodes} simulated municipal nodes -> 1 state node (ingest + cases read model, SQLite, {shape}"
          f"; LOTSE_INGEST_PROCESS={os.environ.get('LOTSE_INGEST_PROCESS', 'auto')})")
    print(f"steady {args.rate} events/s for {args.seconds:.0f}s: {len(latencies)}/{len(sent)} arrived; "
          f"commit -> state read model p50 {pct(latencies, 50)*1000:.0f} ms, p99 {pct(latencies, 99)*1000:.0f} ms "
          f"(bar p99 <= 1000 ms, goal <= 500 ms)")
    print(f"  of which municipal commit -> state ingest accepted: p50 {pct(ingest_lat, 50)*1000:.0f} ms, "
          f"p99 {pct(ingest_lat, 99)*1000:.0f} ms")
    print(f"catch-up after outage: {caught:,} of {args.backlog:,} events in {catch_up:.1f} s "
          f"(incl. node start) = {caught / catch_up:,.0f} events/s (bar <= 30 s, goal <= 15 s)")
    print(f"raw redis-py copy of the same {copied:,} inbound entries: {raw_s:.2f} s = {copied / raw_s:,.0f} entries/s; "
          f"ratio lotse/raw {(caught / catch_up) / (copied / raw_s):.3f}x")


if __name__ == "__main__":
    asyncio.run(main())
