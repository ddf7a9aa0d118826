"""A consumer's second chances: reclaim idle pending entries, finish its own on stop, forget dead consumers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from .cancellation import raise_if_cancelled
from .metrics import RECLAIMED

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .consumer import ConsumerOptions, Entry, Subscription

log = logging.getLogger(__name__)


class Reclaiming:
    """The reclaim half of `Consumer` (which provides these attributes and `handle`/`revive`)."""

    sub: Subscription
    redis: Redis
    name: str
    opts: ConsumerOptions
    errors_key: str
    stalled: bool
    _stopping: bool

    # Consumer's own methods: processing a batch of entries, and reading again after a lost group.
    handle: Callable[[list[Entry], dict[bytes, int] | None], Awaitable[None]]
    revive: Callable[[], Awaitable[None]]

    async def reclaim_once(self) -> int:
        """XAUTOCLAIM entries idle past the limit (failed, or stranded by a dead consumer) and retry."""
        start: bytes | str = "0-0"
        total = 0
        while True:
            res = await self.redis.xautoclaim(
                self.sub.stream, self.sub.group, self.name, min_idle_time=self.opts.reclaim_idle_ms,
                start_id=start, count=self.opts.batch_size,
            )
            start, claimed = res[0], [(eid, f) for eid, f in res[1] if eid is not None]
            if claimed:
                total += len(claimed)
                RECLAIMED.labels(self.sub.group).inc(len(claimed))
                counts = await self._delivery_counts([eid for eid, _ in claimed])
                errors = await self.redis.hmget(self.errors_key, [eid for eid, _ in claimed])  # type: ignore[misc]
                for (eid, _), err in zip(claimed, errors, strict=True):
                    if err:
                        log.warning("retrying %s in %s (delivery %s): %s", eid.decode(),
                                    self.sub.group, counts.get(eid), err.decode())
                await self.handle(claimed, counts)
            if start in (b"0-0", "0-0") or self._stopping:
                await self.forget_dead_consumers()
                return total

    async def forget_dead_consumers(self) -> None:
        """Remove consumers of killed processes once their pending entries were reclaimed.

        A live consumer reads every few hundred milliseconds; deleting one that holds nothing is safe
        anyway (its next read declares it again).
        """
        for c in await self.redis.xinfo_consumers(self.sub.stream, self.sub.group):
            name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
            if name != self.name and not c["pending"] and c["idle"] > 2 * self.opts.reclaim_idle_ms:
                await self.redis.xgroup_delconsumer(self.sub.stream, self.sub.group, name)

    async def _delivery_counts(self, ids: list[bytes]) -> dict[bytes, int]:
        rows = await self.redis.xpending_range(
            self.sub.stream, self.sub.group, min=min(ids), max=max(ids), count=len(ids) * 4 + 10,
            consumername=self.name,
        )
        return {r["message_id"]: int(r["times_delivered"]) for r in rows}

    async def run_reclaimer(self) -> None:
        while not self._stopping:
            try:
                if not self.stalled:
                    await self.reclaim_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelled()
                if "NOGROUP" in str(exc):  # the server lost the group: declare it again, read again
                    with suppress(RedisError):
                        await self.revive()
                else:
                    log.exception("reclaim of %s failed", self.sub.group)
            await asyncio.sleep(self.opts.reclaim_interval_ms / 1000)

    async def finish_own_pending(self) -> int:
        """On a clean stop: process what this consumer was delivered but has not acked yet.

        A read cancelled at shutdown may already have moved entries into our pending list.
        """
        done = 0
        start = "0"
        while True:
            res = await self.redis.xreadgroup(self.sub.group, self.name, {self.sub.stream: start},
                                              count=self.opts.batch_size)
            entries = [(eid, f) for eid, f in (res[0][1] if res else [])]
            if not entries:
                return done
            counts = await self._delivery_counts([eid for eid, _ in entries])
            await self.handle(entries, counts)
            done += len(entries)
            start = entries[-1][0].decode()  # failures stay pending for another process's reclaim

    async def forget_if_idle(self) -> None:
        """Remove this process's consumer from the group when it holds nothing."""
        pending = await self.redis.xpending_range(self.sub.stream, self.sub.group, "-", "+", 1,
                                                  consumername=self.name)
        if not pending:
            await self.redis.xgroup_delconsumer(self.sub.stream, self.sub.group, self.name)
