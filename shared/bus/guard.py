"""Keeps the bus whole: consumer groups re-declared when the server lost them, stopped subscribers revived."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from .cancellation import raise_if_cancelled
from .consumer import ensure_group

if TYPE_CHECKING:
    from .consumer import Consumer
    from .outbox import OutboxRelay

log = logging.getLogger(__name__)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def missing_groups(redis: Redis, groups: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (stream, group) pairs the server does not have (a stream it lost has none)."""
    wanted: dict[str, set[str]] = {}
    for stream, group in groups:
        wanted.setdefault(stream, set()).add(group)
    missing = []
    for stream, names in sorted(wanted.items()):
        try:
            have = {_text(g["name"]) for g in await redis.xinfo_groups(stream)}
        except ResponseError:  # no such stream
            have = set()
        missing += [(stream, g) for g in sorted(names - have)]
    return missing


class BusGuard:
    """Declared groups exist, every consumer's subscriber reads, every outbox's server kept its marks."""

    def __init__(self, redis: Redis, groups: Sequence[tuple[str, str]], consumers: Sequence[Consumer] = (),
                 relays: Sequence[OutboxRelay] = (), interval_s: float = 1.0) -> None:
        self.redis, self.groups, self.consumers, self.relays = redis, list(groups), consumers, relays
        self.interval_s = interval_s
        self._stopping = False

    async def whole(self) -> bool:
        """Readiness: nothing to repair and nothing lost still waiting to be published again."""
        try:
            if await missing_groups(self.redis, self.groups):
                return False
            return all(c.reading() for c in self.consumers) and all(
                [await r.intact() for r in self.relays])
        except RedisError:
            return False

    async def repair(self) -> int:
        """Re-declare missing groups at the stream's start, then revive stopped subscribers; returns groups made."""
        missing = await missing_groups(self.redis, self.groups)
        for stream, group in missing:
            await ensure_group(self.redis, stream, group)
        if missing:
            log.warning("the bus had lost consumer groups %s; declared them again",
                        ", ".join(f"{g} on {s}" for s, g in missing))
        for consumer in self.consumers:
            if not consumer.reading():
                await consumer.revive()
        return len(missing)

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.repair()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelled()
                log.warning("bus check failed (%s); checking again", exc)
            await asyncio.sleep(self.interval_s)

    def stop(self) -> None:
        self._stopping = True
