"""A consumer killed with SIGKILL mid-batch: another process finishes; every effect happens once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis

from shared.bus.outbox import OutboxRelay
from shared.runtime.embedded import EmbeddedServer
from tests.support import GROUP, STREAM, consumer_db, effects, emit_many, producer_db, wait_for

ROOT = Path(__file__).resolve().parents[2]


def start_worker(url: str, db: Path, name: str, delay: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.bus_worker", url, str(db), name, str(delay)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


async def test_sigkill_mid_batch_then_second_process_finishes(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    from shared.bus import ensure_group

    redis = Redis.from_url(server.url)
    await ensure_group(redis, STREAM, GROUP)
    producer = producer_db(tmp_path / "producer.db")
    ids = emit_many(producer, 300)
    await OutboxRelay(producer, redis, service="test", batch_size=500).run_once()
    db_path = tmp_path / "consumer.db"
    db = consumer_db(db_path)

    first = start_worker(server.url, db_path, "worker-1", delay=0.01)
    try:
        await wait_for(lambda: _mid_batch(redis, db), timeout=30)
        first.send_signal(signal.SIGKILL)  # mid-batch: 20 per batch, 10 ms per event
        first.wait()
        done_by_first = len(effects(db))
        pending = await redis.xpending(STREAM, GROUP)
        assert 0 < done_by_first < 300 and pending["pending"] > 0  # it left work stranded
    finally:
        first.kill()

    second = start_worker(server.url, db_path, "worker-2", delay=0.0)
    try:
        await wait_for(lambda: len(effects(db)) == 300, timeout=60)
        await wait_for(lambda: _settled(redis), timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
    counts = effects(db)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1, "an event took effect twice"
    await redis.aclose()


async def _mid_batch(redis: Redis, db) -> bool:
    return len(effects(db)) >= 50 and (await redis.xpending(STREAM, GROUP))["pending"] > 0


async def _settled(redis: Redis) -> bool:
    return (await redis.xpending(STREAM, GROUP))["pending"] == 0
