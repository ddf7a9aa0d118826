"""Stream trimming that never removes an entry some consumer group has not acknowledged."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from .metrics import LAG, PENDING, TRIMMED


def _parse(entry_id: bytes | str) -> tuple[int, int]:
    ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
    return int(ms), int(seq or 0)


def _after(entry_id: bytes | str) -> tuple[int, int]:
    ms, seq = _parse(entry_id)
    return ms, seq + 1


async def safe_trim_point(redis: Redis, stream: str, retention_s: float = 0.0) -> tuple[int, int] | None:
    """The MINID below which every group has acknowledged everything (None: trim nothing).

    Per group: its oldest pending entry if any, else the entry after its last delivered id.
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except Exception:
        return None
    if not groups:
        return None  # nobody has declared interest yet: keep everything
    points = []
    for g in groups:
        name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        pending = await redis.xpending(stream, name)
        PENDING.labels(stream, name).set(pending["pending"])
        if g.get("lag") is not None:
            LAG.labels(stream, name).set(g["lag"])
        points.append(_parse(pending["min"]) if pending["pending"] else _after(g["last-delivered-id"]))
    point = min(points)
    if retention_s > 0:
        point = min(point, (int((time.time() - retention_s) * 1000), 0))
    return point


async def trim(redis: Redis, stream: str, retention_s: float = 0.0) -> int:
    """XTRIM MINID to the safe point; returns the number of entries removed."""
    point = await safe_trim_point(redis, stream, retention_s)
    if point is None:
        return 0
    removed = int(await redis.xtrim(stream, minid=f"{point[0]}-{point[1]}", approximate=False))
    TRIMMED.labels(stream).inc(removed)
    return removed
