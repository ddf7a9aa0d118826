"""The state's federation ingest in a process of its own (LOTSE_INGEST_PROCESS, on by default with two cores).

Verifying signatures and republishing runs beside the read models that consume what it republishes; in one
process both share one interpreter lock, in two each has a core (bench/federation.py: a 50,000-event backlog
caught up at 1,932 instead of 1,391 events/s). The node process starts the child, restarts it when it dies
and stops it first on shutdown. The child runs the ingest, its reclaimer and the federation database's outbox
relay (what it accepts goes out without waiting for a poll); the node keeps the federation API, the silence
watch and everything else. Both write the federation database: SQLite's BEGIN IMMEDIATE and busy timeout
order them across processes, PostgreSQL its row locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time

from shared.bus.connection import BusAddress, bus_client
from shared.bus.consumer import consumer_name
from shared.bus.outbox import service_relay
from shared.bus.tables import BUS_TABLES
from shared.db import Database
from shared.federation.ingest import ACCEPTED, REJECTED_TOTAL, StateIngest
from shared.federation.models import FEDERATION_TABLES
from shared.runtime import heap
from shared.settings import Settings
from shared.telemetry import setup_tracing

log = logging.getLogger("shared.runtime.ingest_process")  # also when run as __main__
SERVICE = "federation"
REPORT_S = 1.0  # how often the child reports its counters to the node
COUNTERS = {"accepted": (ACCEPTED, 1), "rejected": (REJECTED_TOTAL, 2)}  # a report's kinds: counter, labels
RESTART_S = (1.0, 30.0)  # the wait before restarting a child that died: doubling from the first to the second


class IngestProcess:
    """The node's side: starts the child with the node's settings (on its stdin, never in argv), keeps it up,
    and adds what the child counted (reported on its stdout) to the node's counters, so /metrics shows them."""

    def __init__(self, settings: Settings, redis_url: str | None) -> None:
        self.settings, self.redis_url = settings, redis_url
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def prestart(self) -> None:
        """Start the child's interpreter now, its settings later (`run`): its imports (about 1.4 s) overlap the
        node's own start (databases, bus) instead of following it, which a catching-up state waits for."""
        if self.proc is None:
            self.proc = await self._exec()

    @staticmethod
    async def _exec() -> asyncio.subprocess.Process:
        # A session (and so a process group) of its own: a Ctrl-C in the node's terminal reaches the node only, which
        # stops the child in order (the child's own SIGINT handler is not in place while it imports, 1.4 s of the
        # node's start). start_new_session, not process_group: uvloop, the node's event loop, knows only the former.
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shared.runtime.ingest_process", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            start_new_session=True, limit=2**24)  # a report names every node

    async def _spawn(self) -> None:
        values = self.settings.model_dump(mode="json")
        if self.settings.oidc_client_secret is not None:  # dumped masked; the child needs none, but keep it whole
            values["oidc_client_secret"] = self.settings.oidc_client_secret.get_secret_value()
        values["redis_url"] = self.redis_url  # the embedded server's, when the node started one
        proc = self.proc  # started by prestart, its stdin still open: it is waiting for its settings
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            proc = self.proc = await self._exec()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(values).encode())
            await proc.stdin.drain()
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):  # it died before reading them: run() restarts it
            log.warning("federation ingest process %s exited before it read its settings", proc.pid)
            return
        log.info("federation ingest runs in process %s", proc.pid)

    async def run(self) -> None:
        """Start the child; when it exits while the node runs, start it again (1 s, doubling to 30 s)."""
        wait = RESTART_S[0]
        while not self._stopping:
            started = time.monotonic()
            await self._spawn()
            assert self.proc is not None and self.proc.stdout is not None
            async for line in self.proc.stdout:  # until the child exits
                with contextlib.suppress(ValueError):  # not a report: ignored
                    if isinstance(report := json.loads(line), dict):
                        self._add(report)
            code = await self.proc.wait()
            if self._stopping:
                return
            if time.monotonic() - started > 60:
                wait = RESTART_S[0]  # it ran a while: a fresh failure, not a crash loop
            log.error("federation ingest process exited with %s; starting it again in %.0fs", code, wait)
            self.restarts += 1
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESTART_S[1])

    @staticmethod
    def _add(counted: dict[str, int]) -> None:
        for key, grown in counted.items():
            kind, *labels = str(key).split("|")
            counter, width = COUNTERS.get(kind, (None, 0))
            if counter is not None and len(labels) == width and isinstance(grown, int) and grown > 0:
                counter.labels(*labels).inc(grown)

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the child finishes its batch, publishes its outbox and exits; killed after `timeout`."""
        self._stopping = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            log.warning("federation ingest process %s did not stop within %.0fs; killing it", proc.pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def serve(settings: Settings) -> None:
    """The child: ingest, its reclaimer and the federation outbox's relay until SIGTERM."""
    setup_tracing(f"lotse-{settings.node_id}-ingest", settings.otlp_endpoint)  # its hop spans, as the node's
    db = Database(settings.database_url_for(SERVICE), [*FEDERATION_TABLES, *BUS_TABLES])
    redis = bus_client(BusAddress(settings.redis_url, settings.sentinels, settings.redis_master))
    ingest = StateIngest(redis, db, consumer_name(settings.node_id), settings.node_id,
                         batch=settings.batch_size, silence_s=settings.node_silence_s)
    relay = service_relay(db, redis, settings, SERVICE)  # the node runs no relay for this outbox
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:  # the node was killed: no one would stop us
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        log.warning("the node process %s is gone; the federation ingest stops", parent)
        stop.set()

    def tell() -> None:  # what was counted since the last report, for the node's /metrics
        if counted := ingest.take_tally():
            sys.stdout.write(json.dumps(counted) + "\n")
            sys.stdout.flush()

    async def report() -> None:
        while True:
            tell()
            await asyncio.sleep(REPORT_S)

    watching = asyncio.create_task(orphaned(), name="parent-watch")
    reporting = asyncio.create_task(report(), name="report")
    await relay.reconcile()
    relaying = asyncio.create_task(relay.run(), name="outbox-federation")
    reading = [asyncio.create_task(ingest.run(), name="ingest"), asyncio.create_task(ingest.reclaim(), name="reclaim")]
    heap.settle()  # the process has started: the collector skips what it holds from here on (heap.py)
    await stop.wait()
    watching.cancel()
    ingest.stop()  # the loops end after their current read: a batch in flight is committed and acknowledged
    _, late = await asyncio.wait(reading, timeout=10)
    for task in late:  # what stays pending is reclaimed by the next ingest (the replay guard knows it)
        task.cancel()
    await asyncio.gather(*reading, return_exceptions=True)
    relay.stop()
    await relaying
    with contextlib.suppress(Exception):
        await asyncio.wait_for(relay.drain(), 20)
    reporting.cancel()
    tell()  # the last counts
    await redis.aclose()
    db.dispose()


def main() -> None:
    from shared.runtime.logging import setup_logging

    setup_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt meant for the node: the node stops us in order
    values = sys.stdin.read()  # started early (IngestProcess.prestart): the settings come once the node is up
    if not values:  # the node stopped before it was up: nothing to do
        return
    asyncio.run(serve(Settings(**json.loads(values))))


if __name__ == "__main__":
    main()
