"""The node runtime: one process running some or all services, their outboxes, consumers and HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.auth import Authenticator
from shared.bus.cancellation import raise_if_cancelled
from shared.bus.connection import BusAddress, bus_broker, bus_client
from shared.bus.consumer import Consumer, ConsumerOptions, consumer_name, ensure_group
from shared.bus.guard import BusGuard
from shared.bus.metrics import DEAD_LETTERS, OUTBOX_BACKLOG
from shared.bus.outbox import OutboxRelay, service_relay
from shared.bus.tables import BUS_TABLES
from shared.bus.trim import trim
from shared.db import Database
from shared.events import DEAD_LETTERS as DLQ_STREAM
from shared.keyfile import make_private
from shared.keystore import KeyStore
from shared.migrations.runner import prepare as prepare_database
from shared.runtime.embedded import EmbeddedServer, write_private
from shared.runtime.ingest_process import IngestProcess
from shared.sealing import seal_backlog, sealed_models
from shared.service import ServiceContext, ServiceSpec, discover
from shared.settings import Settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)


def write_node_file(settings: Settings, redis_url: str | None, embedded: bool = False) -> None:
    """Leave the node's identity and bus URL in its data dir for `lotse token/dlq/events`."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(settings.data_dir)  # a data dir from before this rule may have been wider
    info = {"node_id": settings.node_id, "level": settings.level, "tenants": settings.tenants,
            "redis_url": redis_url, "embedded": embedded,
            "http": f"http://{settings.http_host}:{settings.http_port}"}
    write_private(settings.data_dir / "node.json", json.dumps(info, indent=2))  # the URL holds the password


class Node:
    """Starts and stops everything a node process runs, in order."""

    def __init__(self, settings: Settings, specs: dict[str, ServiceSpec] | None = None) -> None:
        self.settings = settings
        self.all_specs = specs if specs is not None else discover()
        missing = [s for s in settings.bus_services if s not in self.all_specs]
        if missing:
            raise RuntimeError(f"services not installed: {', '.join(missing)}")
        self.specs = {n: self.all_specs[n] for n in settings.bus_services}
        self.embedded: EmbeddedServer | None = None
        self.redis_url = settings.redis_url
        self.authenticator = Authenticator(
            node_id=settings.node_id, data_dir=settings.data_dir,
            oidc_issuer=settings.oidc_issuer, oidc_audience=settings.oidc_audience, tenants=settings.tenants)
        self.levels = {name: spec.at(settings.level) for name, spec in self.specs.items()}
        # Engines are lazy: nothing connects before start(); each level has only its own tables.
        self.contexts = {
            name: ServiceContext(name, settings,
                                 Database(settings.database_url_for(name), [*level.tables, *BUS_TABLES]))
            for name, level in self.levels.items()
        }
        self.consumers: list[Consumer] = []
        self.relays: list[OutboxRelay] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.redis: Redis | None = None
        self.broker: RedisBroker | None = None
        self.guard: BusGuard | None = None
        self.consumer_name = consumer_name(settings.node_id)
        self.keystore: KeyStore | None = None
        self.ingest: IngestProcess | None = None

    def opts(self) -> ConsumerOptions:
        s = self.settings
        return ConsumerOptions(batch_size=s.batch_size, block_ms=s.block_ms,
                               reclaim_idle_ms=s.reclaim_idle_ms,
                               reclaim_interval_ms=s.reclaim_interval_ms, max_deliveries=s.max_deliveries)

    def start_embedded(self) -> None:
        """Start a private Redis-compatible server when no Redis URL is configured."""
        if self.redis_url is None and not self.settings.redis_sentinels:
            self.embedded = EmbeddedServer(self.settings.data_dir / "redis").start()
            self.redis_url = self.embedded.url
        write_node_file(self.settings, self.redis_url, embedded=self.embedded is not None)

    async def start(self) -> None:
        """Start everything in order; on any failure stop what did start, then raise."""
        self.start_error: BaseException | None = None
        try:
            await self._start()
        except BaseException as exc:
            self.start_error = exc
            try:
                await self.stop()
            except Exception as stop_exc:  # the cause to report is the first failure
                log.warning("stopping after a failed start: %s", stop_exc)
            raise

    async def _start(self) -> None:
        s = self.settings
        setup_tracing(f"lotse-{s.node_id}", s.otlp_endpoint)
        if s.ingest_apart:  # its interpreter starts beside ours; it gets its settings once the bus is up
            self.ingest = IngestProcess(s, None)
            await self.ingest.prestart()
        await asyncio.to_thread(self.start_embedded)
        self.address = BusAddress(self.redis_url, s.sentinels, s.redis_master)
        self.redis = bus_client(self.address)
        sealing = {name for name, level in self.levels.items() if sealed_models(level.tables)}
        if sealing:  # the per-case data keys, in a database of their own (crypto-shredding)
            self.keystore = await asyncio.to_thread(KeyStore, s.keystore_database_url)
        for ctx in self.contexts.values():
            await asyncio.to_thread(prepare_database, ctx, self.levels[ctx.name])
            if ctx.name in sealing:
                ctx.database.keystore = self.keystore
                sealed = await asyncio.to_thread(seal_backlog, ctx.database, self.levels[ctx.name].tables)
                if sealed:
                    log.info("%s: sealed %s rows written before their fields were encrypted", ctx.name, sealed)
            ctx.redis = self.redis
        # Declare every installed service's groups, running here or not, so no producer's
        # entries are trimmed before a consumer process in split mode first starts.
        declared = []
        for name, spec in self.all_specs.items():
            ctx = self.contexts.get(name) or ServiceContext(name, s, None)
            for sub in spec.at(s.level).subscriptions(ctx):
                await ensure_group(self.redis, sub.stream, sub.group)
                declared.append((sub.stream, sub.group))
        self.broker = bus_broker(self.address, graceful_timeout=30.0, logger=None)
        for name, ctx in self.contexts.items():
            for sub in self.levels[name].subscriptions(ctx):
                sub.db = ctx.db
                consumer = Consumer(sub, self.redis, self.consumer_name, self.opts())
                consumer.attach(self.broker)
                self.consumers.append(consumer)
            if name == "federation" and s.ingest_apart:
                continue  # the ingest process relays the federation outbox
            self.relays.append(service_relay(ctx.database, self.redis, s, name))
        self.guard = BusGuard(self.redis, declared, self.consumers, self.relays, s.bus_check_interval_s)
        await self.broker.start()
        for relay in self.relays:
            await relay.reconcile()  # what the server lost while the node was down goes out first
            self.tasks.append(asyncio.create_task(relay.run(), name=f"outbox-{relay.service}"))
        for consumer in self.consumers:
            self.tasks.append(asyncio.create_task(consumer.run_reclaimer(),
                                                  name=f"reclaim-{consumer.sub.group}"))
        if self.ingest is not None:
            self.ingest.redis_url = self.redis_url
            self.tasks.append(asyncio.create_task(self.ingest.run(), name="ingest-process"))
        self.tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        self.tasks.append(asyncio.create_task(self.guard.run(), name="bus-guard"))
        for name, ctx in self.contexts.items():
            for factory in self.levels[name].background(ctx):
                self.tasks.append(asyncio.create_task(factory(), name=f"{name}-background"))

    def streams(self) -> set[str]:
        return {sub.stream for c in [*self.consumers] for sub in [c.sub]} | {
            spec.stream for spec in self.specs.values() if spec.stream}

    async def _housekeeping(self) -> None:
        """Trim acknowledged entries and refresh gauges."""
        assert self.redis is not None
        while True:
            for stream in sorted(self.streams()):
                try:
                    await trim(self.redis, stream, self.settings.trim_retention_s)
                except Exception:
                    raise_if_cancelled()
                    log.exception("trimming %s failed", stream)
            try:
                DEAD_LETTERS.set(await self.redis.xlen(DLQ_STREAM))
                for relay in self.relays:
                    OUTBOX_BACKLOG.labels(relay.service).set(await asyncio.to_thread(relay.backlog))
            except Exception:
                raise_if_cancelled()
            await asyncio.sleep(self.settings.trim_interval_s)

    async def stop(self) -> None:
        """Finish in-flight batches, ack them, publish what the outboxes hold, then shut down."""
        t0 = time.monotonic()

        def step(what: str) -> None:
            log.info("stop: %s (%.1fs)", what, time.monotonic() - t0)

        if self.ingest is not None:  # first: what it accepts until it stops is still consumed below
            await self.ingest.stop()
            step("ingest process stopped")
        for consumer in self.consumers:
            consumer.stop()
        if self.guard is not None:
            self.guard.stop()
        if self.broker is not None:
            await self.broker.stop()  # waits for in-flight handlers (graceful_timeout)
        step("subscribers stopped")
        for relay in self.relays:
            relay.stop()
        for consumer in self.consumers:
            try:
                await asyncio.wait_for(consumer.finish_own_pending(), 20)
                await consumer.forget_if_idle()
            except Exception:
                log.exception("could not finish pending entries of %s", consumer.sub.group)
        step("own pending entries finished")
        for task in self.tasks:
            task.cancel()
        done, pending = await asyncio.wait(self.tasks, timeout=20) if self.tasks else (set(), set())
        if pending:
            log.warning("stop: tasks still running: %s", ", ".join(t.get_name() for t in pending))
        step("background tasks stopped")
        for relay in self.relays:
            with suppress(Exception):
                await asyncio.wait_for(relay.drain(), 20)
        step("outboxes drained")
        if self.redis is not None:
            await self.redis.aclose()
        for ctx in self.contexts.values():
            if ctx.db is not None:
                ctx.db.dispose()
        if self.keystore is not None:
            self.keystore.dispose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
        step("stopped")

    async def ready(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            checks["redis"] = bool(self.redis is not None and await self.redis.ping())
        except Exception:
            checks["redis"] = False
        # The bus is whole: groups declared, subscribers reading, nothing lost still to publish again.
        checks["bus"] = checks["redis"] and self.guard is not None and await self.guard.whole()
        if self.ingest is not None:
            checks["ingest"] = self.ingest.alive()
        for name, ctx in self.contexts.items():
            checks[f"db:{name}"] = await asyncio.to_thread(ctx.database.writable)  # can it commit?
        return checks
