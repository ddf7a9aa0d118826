"""The dead-letter stream: what could not be processed, with its error and original payload."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.events import DEAD_LETTERS, utcnow

from .metrics import DEAD_LETTERED


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()


def _raw(value: str) -> bytes:
    return base64.b64decode(value[7:]) if value.startswith("base64:") else value.encode()


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered entry, as `lotse dlq list` shows it."""

    id: str
    stream: str
    group: str
    entry_id: str
    event_id: str
    type: str
    error: str
    deliveries: int
    at: str
    payload: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def dead_letter_fields(
    *, stream: str, group: str, entry_id: bytes | str, fields: dict[Any, Any] | None,
    error: str, deliveries: int, event_id: str = "", type_: str = "",
) -> dict[str, str]:
    raw = (fields or {}).get(b"event", (fields or {}).get("event"))
    return {
        "stream": stream, "group": group, "entry_id": _text(entry_id), "event_id": event_id,
        "type": type_, "error": error[:4000], "deliveries": str(deliveries),
        "at": utcnow().isoformat(), "payload": _text(raw) if raw is not None else json.dumps(
            {_text(k): _text(v) for k, v in (fields or {}).items()}),
    }


# KEYS[1] the dead-letter stream; ARGV[1] the group, then per entry: its stream, its id, the field count, the fields.
# An entry is dead-lettered by whoever acknowledges it: a second holder (the consumer that read it and a reclaimer
# that took it over when the first was slow) finds it acknowledged already and appends nothing.
DEAD_LETTER = """
local i, added = 2, 0
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  if redis.call('XACK', ARGV[i], ARGV[1], ARGV[i + 1]) == 1 then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 3, i + 2 + n))
    added = added + 1
  end
  i = i + 3 + n
end
return added
"""


async def dead_letter(redis: Redis, items: list[dict[str, str]], group: str) -> int:
    """Append dead letters and acknowledge their entries atomically; only entries still pending for the group
    are dead-lettered (one dead letter per entry, however many held it). Returns how many were appended."""
    if not items:
        return 0
    args: list[str] = [group]
    for item in items:
        fields = [part for pair in item.items() for part in pair]
        args += [item["stream"], item["entry_id"], str(len(fields)), *fields]
    added = int(await redis.eval(DEAD_LETTER, 1, DEAD_LETTERS, *args))  # type: ignore[misc]
    DEAD_LETTERED.labels(group).inc(added)
    return added


async def list_dead_letters(redis: Redis, count: int = 100, after: str | None = None) -> list[DeadLetter]:
    entries = await redis.xrange(DEAD_LETTERS, min=f"({after}" if after else "-", count=count)
    out = []
    for entry_id, f in entries:
        d = {_text(k): _text(v) for k, v in f.items()}
        out.append(DeadLetter(
            id=_text(entry_id), stream=d.get("stream", ""), group=d.get("group", ""),
            entry_id=d.get("entry_id", ""), event_id=d.get("event_id", ""), type=d.get("type", ""),
            error=d.get("error", ""), deliveries=int(d.get("deliveries") or 0), at=d.get("at", ""),
            payload=d.get("payload", ""),
        ))
    return out


async def replay(redis: Redis, dead_letter_id: str) -> str:
    """Put a dead letter's original payload back on its stream; groups that had it dedupe by inbox."""
    entries = await redis.xrange(DEAD_LETTERS, min=dead_letter_id, max=dead_letter_id)
    if not entries:
        raise KeyError(f"no dead letter {dead_letter_id}")
    fields = {_text(k): _text(v) for k, v in entries[0][1].items()}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(fields["stream"], {"event": _raw(fields["payload"])})
        pipe.xdel(DEAD_LETTERS, dead_letter_id)
        new_id, _ = await pipe.execute()
    return _text(new_id)


def _position(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0)) if ms.isdigit() and seq.isdigit() else (0, 0)


async def replay_all(redis: Redis, group: str | None = None) -> list[tuple[str, str]]:
    """Replay every dead letter (of one group) in the order its events had on their streams.

    Returns (dead letter id, new entry id) pairs. Events that depend on each other (a plan's creation,
    then its contacts) are applied in their original order again.
    """
    letters = [d for d in await _all_dead_letters(redis) if group is None or d.group == group]
    letters.sort(key=lambda d: _position(d.entry_id))
    return [(d.id, await replay(redis, d.id)) for d in letters]


async def _all_dead_letters(redis: Redis) -> list[DeadLetter]:
    out: list[DeadLetter] = []
    while True:
        page = await list_dead_letters(redis, count=1000, after=out[-1].id if out else None)
        out += page
        if len(page) < 1000:
            return out
