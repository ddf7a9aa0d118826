"""Bus semantics against real servers: delivery, retries, dead letters, crash republish, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from shared.bus import Consumer, ConsumerOptions, Subscription, ensure_group, list_dead_letters, replay
from shared.bus.consumer import handled
from shared.bus.outbox import OutboxRelay
from shared.events import envelope_for
from shared.runtime.embedded import EmbeddedServer
from tests.support import (
    GROUP,
    STREAM,
    BusPair,
    Effect,
    consultation,
    consumer_db,
    effects,
    emit_many,
    make_batch_handler,
    make_handler,
    wait_for,
)


async def test_events_flow_exactly_once(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = await BusPair(server.url, tmp_path).start()
    try:
        ids = emit_many(bus.producer, 300)
        await wait_for(lambda: len(effects(bus.consumer_db)) == 300)
        assert set(effects(bus.consumer_db)) == set(ids)
        assert max(effects(bus.consumer_db).values()) == 1
        await wait_for(lambda: bus.redis.xpending(STREAM, GROUP))
        assert (await bus.redis.xpending(STREAM, GROUP))["pending"] == 0
        assert bus.relay.backlog() == 0
    finally:
        await bus.stop()


async def test_failing_handler_is_retried_then_dead_lettered_and_replayed(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    refuse = {13}
    calls: list[str] = []

    def fail(env, payload) -> bool:
        if payload.duration_minutes == 13:
            calls.append(env.event_id)
        return payload.duration_minutes in refuse

    bus = await BusPair(server.url, tmp_path, make_handler(fail)).start()
    try:
        ids = emit_many(bus.producer, 40, minutes=lambda i: 13 if i == 5 else 30)
        bad = ids[5]
        # The events behind the failing one keep flowing while it waits for its retries.
        await wait_for(lambda: len(effects(bus.consumer_db)) == 39)
        letters = await wait_for(lambda: list_dead_letters(bus.redis), timeout=15)
        assert len(letters) == 1
        letter = letters[0]
        assert letter.event_id == bad and letter.group == GROUP and letter.stream == STREAM
        assert letter.deliveries == 3 and "refuses 13 minutes" in letter.error
        assert calls.count(bad) == 3  # bounded: max_deliveries
        assert (await bus.redis.xpending(STREAM, GROUP))["pending"] == 0
        refuse.clear()
        await replay(bus.redis, letter.id)
        await wait_for(lambda: effects(bus.consumer_db)[bad] == 1)
        assert await list_dead_letters(bus.redis) == []
        assert max(effects(bus.consumer_db).values()) == 1
    finally:
        await bus.stop()


async def test_batch_handler_failing_on_one_event_commits_the_others_exactly_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """The run fails as a whole (its insert of the good rows too); the batch is redone event by event."""
    runs: list[int] = []
    refuse = {13}
    bus = BusPair(server.url, tmp_path, make_batch_handler(lambda e, p: p.duration_minutes in refuse, runs))
    ids = emit_many(bus.producer, 120, minutes=lambda i: 13 if i == 57 else 30)  # waiting before the start
    await bus.start()
    try:
        bad = ids[57]
        await wait_for(lambda: len(effects(bus.consumer_db)) == 119)
        letters = await wait_for(lambda: list_dead_letters(bus.redis), timeout=15)
        assert [letter.event_id for letter in letters] == [bad]
        assert "refuses 13 minutes" in letters[0].error and letters[0].deliveries == 3
        done = effects(bus.consumer_db)
        assert set(done) == set(ids) - {bad} and max(done.values()) == 1
        assert max(runs) > 1  # the fast path did take whole runs
        assert (await bus.redis.xpending(STREAM, GROUP))["pending"] == 0
        with closing(sqlite3.connect(tmp_path / "consumer.db")) as conn:
            assert conn.execute("SELECT count(*), count(DISTINCT event_id) FROM bus_inbox").fetchone() == (119, 119)
        refuse.clear()
        await replay(bus.redis, letters[0].id)
        await wait_for(lambda: effects(bus.consumer_db)[bad] == 1)
        assert max(effects(bus.consumer_db).values()) == 1
    finally:
        await bus.stop()


async def test_poison_entries_are_dead_lettered_at_once(server: EmbeddedServer, tmp_path: Path) -> None:
    # Reclaim idle far away: a poison entry must not wait for a retry cycle.
    opts = ConsumerOptions(batch_size=50, block_ms=50, reclaim_idle_ms=60_000, max_deliveries=3)
    bus = await BusPair(server.url, tmp_path, opts=opts).start()
    try:
        before = emit_many(bus.producer, 5)
        await wait_for(lambda: len(effects(bus.consumer_db)) == 5)
        await bus.redis.xadd(STREAM, {"event": b"\xff\xfe not utf-8"})
        await bus.redis.xadd(STREAM, {"event": "{not json"})
        await bus.redis.xadd(STREAM, {"unexpected": "field"})
        await bus.redis.xadd(STREAM, {"event": '{"type":"ConsultationRecorded"}'})
        after = emit_many(bus.producer, 5)
        await wait_for(lambda: len(effects(bus.consumer_db)) == 10, timeout=10)
        letters = await wait_for(lambda: _at_least(bus.redis, 4), timeout=5)
        assert len(letters) == 4
        assert all("malformed" in d.error for d in letters)
        assert letters[0].payload.startswith("base64:")
        assert set(effects(bus.consumer_db)) == set(before + after)
        assert (await bus.redis.xpending(STREAM, GROUP))["pending"] == 0
    finally:
        await bus.stop()


async def _at_least(redis: Redis, n: int):
    letters = await list_dead_letters(redis)
    return letters if len(letters) >= n else None


async def test_invalid_payload_for_a_known_type_is_dead_lettered(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    bus = await BusPair(server.url, tmp_path).start()
    try:
        ids = emit_many(bus.producer, 1)
        await wait_for(lambda: len(effects(bus.consumer_db)) == 1)
        entry = (await bus.redis.xrange(STREAM, count=1))[0][1][b"event"].decode()
        forged = entry.replace('"duration_minutes":30', '"duration_minutes":10000').replace(
            ids[0], "01J00000000000000000000000")
        await bus.redis.xadd(STREAM, {"event": forged})
        letters = await wait_for(lambda: list_dead_letters(bus.redis), timeout=5)
        assert "duration_minutes" in letters[0].error
    finally:
        await bus.stop()


async def test_crash_between_publish_and_mark_republishes_and_inbox_absorbs(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    bus = BusPair(server.url, tmp_path)
    ids = emit_many(bus.producer, 50)
    crashing = OutboxRelay(bus.producer, bus.redis, service="test", batch_size=100)

    def crash(_: list[int]) -> None:
        raise SystemExit("process died before marking the rows sent")

    crashing._mark = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await crashing.run_once()
    assert await bus.redis.xlen(STREAM) == 50
    assert bus.relay.backlog() == 50  # still unpublished as far as the outbox knows
    await bus.start()
    try:
        await wait_for(lambda: bus.relay.backlog() == 0)
        assert await bus.redis.xlen(STREAM) == 100  # every event went out twice
        await wait_for(lambda: _drained(bus))
        counts = effects(bus.consumer_db)
        assert set(counts) == set(ids) and max(counts.values()) == 1
    finally:
        await bus.stop()


async def test_a_crash_before_the_deferred_mark_republishes_and_inbox_absorbs(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """The running relay marks its batches later, together: until then they neither go out again nor count as
    backlog; a process that dies before the mark publishes them again at its next start, once more each."""
    bus = BusPair(server.url, tmp_path)
    ids = emit_many(bus.producer, 50)
    dying = OutboxRelay(bus.producer, bus.redis, service="test", batch_size=20)
    assert [await dying.run_once(mark_later=True) for _ in range(4)] == [20, 20, 10, 0]
    assert await bus.redis.xlen(STREAM) == 50  # each published once, none twice while unmarked
    assert dying.backlog() == 0  # on the bus: not backlog, though their rows are not marked yet
    # the process dies here: the next one's relay finds all 50 unpublished and sends them again
    assert await bus.relay.run_once() == 50 and await bus.redis.xlen(STREAM) == 100
    await bus.start()
    try:
        await wait_for(lambda: _drained(bus))
        assert effects(bus.consumer_db) == {event_id: 1 for event_id in ids}  # the inbox absorbed the copies
    finally:
        await bus.stop()


async def test_under_load_the_relay_coalesces_commits_into_one_publish(server: EmbeddedServer, tmp_path: Path) -> None:
    """A commit after an idle spell goes out at once; commits that follow it within the relay's coalescing window
    go out together, in one batch, in their order."""
    bus = BusPair(server.url, tmp_path)
    relay = OutboxRelay(bus.producer, bus.redis, service="test", batch_size=100, interval_ms=20, coalesce_ms=1500)
    batches: list[int] = []
    publish = relay.publish

    async def counted(rows: list, mark) -> bool:  # type: ignore[no-untyped-def]
        batches.append(len(rows))
        return await publish(rows, mark)

    relay.publish = counted  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        first = emit_many(bus.producer, 1)
        await wait_for(lambda: batches == [1])
        then: list[str] = []
        for _ in range(5):  # five commits, each while the relay could run, all within the window
            then += await asyncio.to_thread(emit_many, bus.producer, 1)
            await asyncio.sleep(0.05)
        await wait_for(lambda: sum(batches) == 6)
        assert batches == [1, 5]
        assert await stream_ids(bus) == first + then
        # the running relay writes their marks within MARK_AFTER_S: another relay finds nothing to publish
        await wait_for(lambda: OutboxRelay(bus.producer, bus.redis, service="other").backlog() == 0)
    finally:
        relay.stop()
        await asyncio.gather(task, return_exceptions=True)
        await bus.redis.aclose()


async def stream_ids(bus: BusPair) -> list[str]:
    import json

    return [json.loads(f[b"event"])["event_id"] for _, f in await bus.redis.xrange(STREAM)]


async def _drained(bus: BusPair) -> bool:
    groups = await bus.redis.xinfo_groups(STREAM)
    return groups[0]["lag"] == 0 and groups[0]["pending"] == 0


async def test_server_restart_loses_nothing(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = await BusPair(server.url, tmp_path).start()
    try:
        ids = emit_many(bus.producer, 200)

        async def produce_more() -> list[str]:
            more: list[str] = []
            for _ in range(20):
                more += await asyncio.to_thread(emit_many, bus.producer, 20)
                await asyncio.sleep(0.05)
            return more

        producing = asyncio.create_task(produce_more())
        await asyncio.sleep(0.3)
        server.stop()  # SIGTERM: AOF is flushed, clients see connection errors
        await asyncio.sleep(1.0)
        server.start()
        ids += await producing
        await wait_for(lambda: set(effects(bus.consumer_db)) == set(ids), timeout=60)
        assert max(effects(bus.consumer_db).values()) == 1
    finally:
        await bus.stop()


async def test_trimming_keeps_what_a_stopped_group_has_not_acknowledged(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    from shared.bus import ensure_group, safe_trim_point, trim

    redis = Redis.from_url(server.url)
    try:
        await ensure_group(redis, STREAM, "active")
        await ensure_group(redis, STREAM, "stopped")
        ids = [await redis.xadd(STREAM, {"event": f"{i}"}) for i in range(100)]
        # the active group read and acked everything
        read = await redis.xreadgroup("active", "a1", {STREAM: ">"}, count=1000)
        await redis.xack(STREAM, "active", *[e for e, _ in read[0][1]])
        # the stopped group read 30, acked 20 of them, then its consumer went away
        read = await redis.xreadgroup("stopped", "s1", {STREAM: ">"}, count=30)
        await redis.xack(STREAM, "stopped", *[e for e, _ in read[0][1]][:20])
        assert await safe_trim_point(redis, STREAM) is not None
        removed = await trim(redis, STREAM)
        assert removed == 20
        remaining = [e for e, _ in await redis.xrange(STREAM)]
        assert remaining == ids[20:]
        # a group that never read at all pins the whole stream
        await ensure_group(redis, "other", "never")
        await redis.xadd("other", {"event": "x"})
        assert await trim(redis, "other") == 0 and await redis.xlen("other") == 1
        # trimming again removes nothing more while the stopped group is still behind
        assert await trim(redis, STREAM) == 0
    finally:
        await redis.aclose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_the_inbox_absorbs_redelivered_events_on_either_database(
    backend: str, server: EmbeddedServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every event delivered twice, in the same batch and in later ones, past 500 handled (the inbox's lookup
    on PostgreSQL joins the batch's ids to the inbox): each has its effect once, every entry is acknowledged."""
    db = consumer_db(tmp_path / "consumer.db" if backend == "sqlite" else request.getfixturevalue("postgres_url"))
    redis = Redis.from_url(server.url)
    try:
        await ensure_group(redis, STREAM, GROUP)
        consumer = Consumer(Subscription(STREAM, GROUP, {"ConsultationRecorded": make_batch_handler()}, db=db),
                            redis, "inbox-test", ConsumerOptions())
        envs = [envelope_for(consultation(30), tenant="08111000", node="test", aggregate_id=f"case-{i}")
                for i in range(700)]
        for env in [*envs[:400], *envs[:400], *envs[400:], *envs[350:]]:  # 1,450 entries, 700 events
            await redis.xadd(STREAM, {"event": env.to_json()})
        read = await redis.xreadgroup(GROUP, "inbox-test", {STREAM: ">"}, count=2000)
        entries = read[0][1]
        assert len(entries) == 1450
        for start in range(0, len(entries), 500):
            await consumer.handle(entries[start:start + 500], None)
        with db.session() as s:
            counts = Counter(s.execute(select(Effect.__table__.c.event_id)).scalars())  # type: ignore[attr-defined]
            assert handled(s, GROUP, [e.event_id for e in envs] + ["0" * 26]) == {e.event_id for e in envs}
        assert set(counts) == {e.event_id for e in envs} and max(counts.values()) == 1
        assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    finally:
        await redis.aclose()
        db.dispose()
