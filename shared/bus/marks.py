"""What the bus has durably received from an outbox: a mark written in one script with each batch.

Each relay appends a batch and, atomically with it, the time at which it marks the batch published in
its outbox. A server that comes back without that mark (restarted empty, its AOF's last second cut
off, a failover to a replica that had not received it) has lost every entry published after the
newest mark it kept: the outbox publishes those rows again and the consumers' inboxes absorb the
ones that were not lost after all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import chain

from redis.asyncio import Redis

MARKS = "lotse:bus:published"  # + ":<outbox>": a hash with one field per running relay

# KEYS[1] the marks; ARGV: relay field, the mark it expects, the new mark, then stream/body pairs.
PUBLISH = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[2] then return -1 end
for i = 4, #ARGV, 2 do redis.call('XADD', ARGV[i], '*', 'event', ARGV[i + 1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return (#ARGV - 3) / 2
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Marks:
    """One relay's field in its outbox's marks: what it expects there, and the newest mark of any relay."""

    def __init__(self, redis: Redis, outbox: str, field: str) -> None:
        self.redis, self.key, self.field = redis, f"{MARKS}:{outbox}", field
        self.expected: str | None = None  # None: not reconciled yet; "": no mark of ours yet
        self._script = redis.register_script(PUBLISH)
        self._last: datetime | None = None

    def next_mark(self, now: datetime) -> datetime:
        """Strictly increasing within this relay, even if the clock stands still."""
        mark = now if self._last is None or now > self._last else self._last + timedelta(microseconds=1)
        self._last = mark
        return mark

    async def publish(self, mark: datetime, items: list[tuple[str, str]]) -> bool:
        """Append the entries and the new mark atomically; False (nothing appended) if our mark is gone."""
        args = [self.field, self.expected or "", mark.isoformat(), *chain.from_iterable(items)]
        if await self._script(keys=[self.key], args=args) < 0:
            return False
        self.expected = mark.isoformat()
        return True

    async def intact(self) -> bool:
        """Does the server still hold our last mark (or, as expected, none)?"""
        if self.expected is None:
            return False
        current = await self.redis.hget(self.key, self.field)  # type: ignore[misc]
        return (_text(current) if current is not None else "") == self.expected

    async def newest(self) -> datetime | None:
        """The newest mark any relay of this outbox left that the server kept (None: it kept none)."""
        marks = await self.redis.hgetall(self.key)  # type: ignore[misc]
        values = [datetime.fromisoformat(_text(v)) for v in marks.values()]
        return max(values) if values else None

    async def adopt(self, newest: datetime | None, forget_before: datetime) -> None:
        """Expect `newest` as our own mark from now on; drop marks of relays long gone."""
        marks = await self.redis.hgetall(self.key)  # type: ignore[misc]
        stale = [f for f, v in marks.items() if _text(f) != self.field
                 and datetime.fromisoformat(_text(v)) < forget_before]
        async with self.redis.pipeline(transaction=True) as pipe:
            if newest is not None:
                pipe.hset(self.key, self.field, newest.isoformat())
            if stale:
                pipe.hdel(self.key, *stale)
            if len(pipe):
                await pipe.execute()
        self.expected = newest.isoformat() if newest is not None else ""
        if newest is not None and (self._last is None or newest > self._last):
            self._last = newest
