"""A Redis that forgets: restarted empty or with its AOF's last second cut off, nothing acknowledged is lost."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError

from shared.bus import ensure_group
from shared.bus.guard import BusGuard
from shared.events import STREAMS
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.integration.processes import lotse, one_line
from tests.integration.reliability import (
    EFFECTS,
    aof_files,
    effects_per_case,
    install_counting_service,
    open_cases,
    restart_empty,
)
from tests.nodes import eventually, running_node
from tests.support import GROUP, STREAM, BusPair, effects, emit_many, wait_for


async def stream_event_ids(bus: BusPair) -> list[str]:
    import json

    return [json.loads(f[b"event"])["event_id"] for _, f in await bus.redis.xrange(STREAM)]


async def test_guard_reports_and_repairs_a_server_restarted_empty(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = BusPair(server.url, tmp_path)  # nothing runs by itself: each step is taken here
    guard = BusGuard(bus.redis, [(STREAM, GROUP)], relays=[bus.relay])
    try:
        await guard.repair()
        ids = emit_many(bus.producer, 20)
        assert await bus.relay.run_once() == 20
        assert await guard.whole()
        restart_empty(server)
        assert not await guard.whole()  # no group, and the relay's mark is gone
        assert await guard.repair() == 1
        assert not await guard.whole()  # the group is back, the lost entries are not
        assert await bus.relay.run_once() == 0  # finds its mark gone: the 20 rows are unpublished again
        assert bus.relay.backlog() == 20 and not await guard.whole()
        assert await bus.relay.run_once() == 20
        assert await bus.relay.run_once() == 0
        assert await guard.whole()
        assert await stream_event_ids(bus) == ids
    finally:
        await bus.redis.aclose()


async def test_the_last_writes_cut_from_the_aof_are_published_again(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = BusPair(server.url, tmp_path)
    try:
        first = emit_many(bus.producer, 30)
        assert await bus.relay.run_once() == 30
        (aof,) = aof_files(server)
        kept = aof.stat().st_size
        second = emit_many(bus.producer, 30)
        assert await bus.relay.run_once() == 30  # acknowledged by the server (appendfsync always)
        server.stop(kill=True)
        with aof.open("r+b") as f:  # a host crash with `everysec`: the last second never reached the disk
            f.truncate(kept)
        server.start()
        with suppress(ConnectionError):
            await bus.redis.ping()  # the pooled connection died with the server
        assert await stream_event_ids(bus) == first  # the server lost the second batch
        while await bus.relay.run_once() or bus.relay.recovering:
            pass
        assert await stream_event_ids(bus) == first + second  # once each, in their order
    finally:
        await bus.redis.aclose()


async def test_deferred_marks_are_written_before_a_lost_server_is_reconciled(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """Batches published but not marked yet are marked at their own marks before the relay compares them with
    the server's: what the server lost goes out again, in its order, and nothing twice."""
    bus = BusPair(server.url, tmp_path)
    try:
        first = emit_many(bus.producer, 30)
        assert await bus.relay.run_once() == 30  # marked at once
        second = emit_many(bus.producer, 30)
        assert await bus.relay.run_once(mark_later=True) == 30
        assert bus.relay.backlog() == 0
        restart_empty(server)
        with suppress(ConnectionError):
            await bus.redis.ping()  # the pooled connection died with the server
        assert await bus.relay.run_once(mark_later=True) == 0  # its mark is gone: it reconciles instead
        assert bus.relay.backlog() == 60  # both batches, the unmarked one marked first, then unpublished
        while await bus.relay.run_once(mark_later=True):
            pass
        await bus.relay.mark_published()
        assert bus.relay.backlog() == 0
        assert await stream_event_ids(bus) == first + second
    finally:
        await bus.redis.aclose()


def test_redis_restarted_empty_loses_no_acknowledged_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_counting_service(monkeypatch)
    server = EmbeddedServer(tmp_path / "redis", binary=find_server("redis-server")).start()
    try:
        # Published while plans does not run yet, then the server forgets everything.
        with running_node(tmp_path, server.url, services=["cases"]) as node:
            before = open_cases(node, 10)
            eventually(lambda: all(r.backlog() == 0 for r in node.node.relays))
        restart_empty(server)
        with running_node(tmp_path, server.url, services=["cases", EFFECTS]) as node:
            during = open_cases(node, 10)
            eventually(lambda: len(effects_per_case(node)) == 20, timeout=30)
            # Now while the node runs: the server dies, writes go on, it comes back empty.
            server.stop(kill=True)
            during += open_cases(node, 5)
            restart_empty(server)
            after = open_cases(node, 5)
            eventually(lambda: len(effects_per_case(node)) == 30, timeout=60)
            assert set(effects_per_case(node)) == {*before, *during, *after}
            assert set(effects_per_case(node).values()) == {1}
            ready = eventually(lambda: node.client.get("/readyz").status_code == 200 and
                               node.client.get("/readyz").json(), timeout=30)
            assert ready["checks"]["bus"] is True
    finally:
        server.stop()


def test_bus_republish_since_sends_kept_events_again_and_consumers_skip_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_counting_service(monkeypatch)
    server = EmbeddedServer(tmp_path / "redis").start()
    try:
        with running_node(tmp_path, server.url, services=["cases", EFFECTS]) as node:
            cases = open_cases(node, 3)
            eventually(lambda: len(effects_per_case(node)) == 3)
            r = SyncRedis.from_url(server.url)
            try:
                published = r.xlen(STREAMS["cases"])
                result = lotse("bus", "republish", "--since", "10m", "--node", str(node.settings.data_dir),
                               "--service", "cases")
                assert result.returncode == 0, result.stderr
                assert result.stdout.split() == ["cases", "3", "events", "to", "publish", "again"]
                eventually(lambda: r.xlen(STREAMS["cases"]) == published + 3)
            finally:
                r.close()
            assert set(effects_per_case(node)) == set(cases) and set(effects_per_case(node).values()) == {1}
            bad = lotse("bus", "republish", "--since", "yesterday", "--node", str(node.settings.data_dir))
            assert bad.returncode == 2 and "--since" in one_line(bad)
    finally:
        server.stop()


async def test_a_subscriber_stopped_by_a_lost_group_reads_again(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = BusPair(server.url, tmp_path)
    guard = BusGuard(bus.redis, [(STREAM, GROUP)], [bus.consumer])
    await ensure_group(bus.redis, STREAM, GROUP)
    await bus.broker.start()  # the subscriber only: relay and reclaimer are stepped here
    try:
        first = emit_many(bus.producer, 5)
        await bus.relay.run_once()
        await wait_for(lambda: len(effects(bus.consumer_db)) == 5)
        await bus.redis.xgroup_destroy(STREAM, GROUP)  # as a server that lost it: FastStream stops for good
        await wait_for(lambda: not bus.consumer.reading())
        assert not await guard.whole()
        assert await guard.repair() == 1
        assert await guard.whole()
        second = emit_many(bus.producer, 5)
        await bus.relay.run_once()
        await wait_for(lambda: set(effects(bus.consumer_db)) == {*first, *second})
        assert set(effects(bus.consumer_db).values()) == {1}  # the group starts over at 0: inboxes skip
    finally:
        await bus.broker.stop()
        await bus.redis.aclose()
