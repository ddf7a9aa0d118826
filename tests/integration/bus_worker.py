"""A consumer process for the SIGKILL test: slow handler, real bus, effects in its SQLite file."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.bus import Consumer, ConsumerOptions, Subscription
from tests.support import GROUP, STREAM, consumer_db, make_handler


async def main(url: str, db_path: str, name: str, delay: float) -> None:
    db = consumer_db(Path(db_path))
    redis = Redis.from_url(url)
    opts = ConsumerOptions(batch_size=20, block_ms=50, reclaim_idle_ms=500, reclaim_interval_ms=100)
    consumer = Consumer(Subscription(STREAM, GROUP, {"ConsultationRecorded": make_handler(delay=delay)},
                                     db=db), redis, name, opts)
    broker = RedisBroker(url, logger=None)
    consumer.attach(broker)
    await broker.start()
    reclaimer = asyncio.create_task(consumer.run_reclaimer())
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    consumer.stop()
    await broker.stop()
    reclaimer.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
