"""Bus semantics the reliability issue asked for: unknown events, dead consumers, dead letters in order."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.bus import Consumer, Subscription, ensure_group, list_dead_letters
from shared.bus.deadletter import dead_letter, dead_letter_fields
from shared.events import DEAD_LETTERS, envelope_for
from shared.events.cases import ConsultationRecorded
from shared.runtime.embedded import EmbeddedServer
from tests.integration.processes import clean_env, lotse
from tests.support import GROUP, STREAM, BusPair, consultation, effects, emit_many, make_handler, wait_for


def forged(type_: str, version: int = 1) -> str:
    env = envelope_for(consultation(), tenant="08111000", node="test", aggregate_id="case-x")
    return env.model_copy(update={"type": type_, "version": version}).to_json()


async def test_an_event_nobody_knows_is_dead_lettered_once(server: EmbeddedServer, tmp_path: Path) -> None:
    bus = BusPair(server.url, tmp_path)
    # A second group on the same stream that handles nothing of it: known types pass it by.
    other = Consumer(Subscription(STREAM, "other", {}, db=bus.consumer_db), bus.redis, "o1", bus.opts)
    other_broker = RedisBroker(server.url, logger=None)
    other.attach(other_broker)
    await bus.start()
    await other_broker.start()
    try:
        ids = emit_many(bus.producer, 5)
        await bus.redis.xadd(STREAM, {"event": forged("CaseTeleported")})
        await bus.redis.xadd(STREAM, {"event": forged(ConsultationRecorded.event_type, version=99)})
        await wait_for(lambda: len(effects(bus.consumer_db)) == 5)
        letters = await wait_for(lambda: _at_least(bus.redis, 2))
        assert sorted(d.type for d in letters) == ["CaseTeleported", "ConsultationRecorded"]
        assert any("unknown event type 'CaseTeleported'" in d.error for d in letters)
        for group in (GROUP, "other"):
            await wait_for(lambda g=group: _settled(bus.redis, g))
        await asyncio.sleep(0.5)  # both groups have acknowledged everything: no second dead letter comes
        assert len(await list_dead_letters(bus.redis)) == 2
        assert set(effects(bus.consumer_db)) == set(ids)
    finally:
        await other_broker.stop()
        await bus.stop()


async def _at_least(redis: Redis, n: int):
    letters = await list_dead_letters(redis)
    return letters if len(letters) >= n else None


async def _settled(redis: Redis, group: str) -> bool:
    info = [g for g in await redis.xinfo_groups(STREAM) if g["name"].decode() == group][0]
    return info["lag"] == 0 and info["pending"] == 0


async def test_a_killed_consumer_leaves_its_group_once_its_entries_are_reclaimed(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    bus = BusPair(server.url, tmp_path)
    redis = Redis.from_url(server.url)
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        ids = emit_many(bus.producer, 10)
        await bus.relay.run_once()
        # A process read these, then was SIGKILLed: they stay pending under its name.
        await redis.xreadgroup(GROUP, "killed-process", {STREAM: ">"}, count=10)
        await bus.start()
        await wait_for(lambda: set(effects(bus.consumer_db)) == set(ids))
        names = await wait_for(lambda: _consumers_without(redis, "killed-process"))
        assert names == ["c1"]
    finally:
        await bus.stop()
        await redis.aclose()


async def _consumers_without(redis: Redis, name: str) -> list[str] | None:
    names = [c["name"].decode() for c in await redis.xinfo_consumers(STREAM, GROUP)]
    return names if name not in names else None


async def test_dlq_replay_all_puts_dead_letters_back_in_stream_order(server: EmbeddedServer, tmp_path: Path) -> None:
    refuse = {"on": True}
    bus = await BusPair(server.url, tmp_path, make_handler(lambda e, p: refuse["on"])).start()
    try:
        ids = emit_many(bus.producer, 5)
        letters = await wait_for(lambda: _at_least(bus.redis, 5), timeout=30)
        # Recorded out of order (as reclaims of several processes may record them), newest first:
        await bus.redis.delete(DEAD_LETTERS)
        for d in sorted(letters, key=lambda d: d.entry_id, reverse=True):
            await bus.redis.xadd(DEAD_LETTERS, {k: str(v) for k, v in d.as_dict().items() if k != "id"}
                                 | {"error": "RuntimeError: refused\nsecond line of the error"})
        env = clean_env(LOTSE_REDIS_URL=server.url, LOTSE_DATA_DIR=str(tmp_path / "cli"))
        listed = lotse("dlq", "list", env=env)
        assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 5, listed.stdout
        refuse["on"] = False
        assert lotse("dlq", "replay", "--all", "--group", "elsewhere", env=env).stdout.splitlines() == [
            "0 dead letters replayed"]
        result = lotse("dlq", "replay", "--all", "--group", GROUP, env=env)
        assert result.returncode == 0 and result.stdout.splitlines()[-1] == "5 dead letters replayed"
        await wait_for(lambda: len(effects(bus.consumer_db)) == 5)
        assert _applied_order(bus) == ids
        assert await list_dead_letters(bus.redis) == []
    finally:
        await bus.stop()


def _applied_order(bus: BusPair) -> list[str]:
    path = bus.consumer_db.url.split("///", 1)[1]
    with closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM test_effect ORDER BY id")]


async def test_an_entry_held_twice_is_dead_lettered_once(server: EmbeddedServer) -> None:
    """The consumer that read an entry and a reclaimer that took it over (the first was slow) both give up on it:
    whoever acknowledges it appends the dead letter, the other appends nothing."""
    redis = Redis.from_url(server.url)
    try:
        await ensure_group(redis, STREAM, GROUP)
        entry = await redis.xadd(STREAM, {"event": "{not json"})
        await redis.xreadgroup(GROUP, "slow", {STREAM: ">"}, count=1)
        await redis.xautoclaim(STREAM, GROUP, "reclaimer", 0, "0-0")  # the second holder
        item = dead_letter_fields(stream=STREAM, group=GROUP, entry_id=entry, fields={b"event": b"{not json"},
                                  error="malformed envelope", deliveries=2)
        assert await dead_letter(redis, [item], GROUP) == 1
        assert await dead_letter(redis, [item], GROUP) == 0
        letters = await list_dead_letters(redis)
        assert [(d.entry_id, d.error, d.payload) for d in letters] == [(entry.decode(), "malformed envelope",
                                                                         "{not json")]
        assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    finally:
        await redis.aclose()
