"""How a node reaches its bus: one Redis URL, or the current primary through Redis Sentinel.

Either way the client checks a pooled connection that sat idle before using it and retries a command
once on a fresh connection, so the first command after an outage or a failover does not fail on a
connection the server already closed; with Sentinel, a reconnect asks the Sentinels for the primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from faststream.redis import RedisBroker, RedisSentinelBroker
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

HEALTH_CHECK_S = 2  # a connection idle longer is PINGed before use


@dataclass(frozen=True)
class BusAddress:
    """LOTSE_REDIS_URL, or LOTSE_REDIS_SENTINELS + LOTSE_REDIS_MASTER (the URL then gives only user, password, db)."""

    url: str | None
    sentinels: tuple[tuple[str, int], ...] = field(default=())
    master: str | None = None

    def credentials(self) -> dict[str, Any]:
        parts = urlsplit(self.url or "")
        db = parts.path.strip("/")
        return {"username": unquote(parts.username) if parts.username else None,
                "password": unquote(parts.password) if parts.password else None, "db": int(db) if db else 0}

    def describe(self) -> str:
        if self.sentinels:
            return f"sentinel://{','.join(f'{h}:{p}' for h, p in self.sentinels)}/{self.master}"
        return self.url or ""


def resilient() -> dict[str, Any]:
    return {"health_check_interval": HEALTH_CHECK_S, "socket_keepalive": True,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            "retry_on_error": [ConnectionError, TimeoutError]}


def bus_client(address: BusAddress) -> Redis:
    """The node's client of its bus (the primary, wherever Sentinel says it is now)."""
    if not address.sentinels:
        assert address.url is not None
        return Redis.from_url(address.url, **resilient())
    creds = address.credentials()
    sentinel = Sentinel(list(address.sentinels), sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1},
                        socket_connect_timeout=3, socket_timeout=10, **creds, **resilient())
    assert address.master is not None
    return sentinel.master_for(address.master, redis_class=Redis)


def bus_broker(address: BusAddress, **options: Any) -> RedisBroker:
    """FastStream's broker on the same bus (user, password and db from the URL in both cases)."""
    options.setdefault("health_check_interval", HEALTH_CHECK_S)
    if not address.sentinels:
        assert address.url is not None
        return RedisBroker(address.url, **options)
    return RedisSentinelBroker(address.url or "redis://localhost:6379", sentinels=list(address.sentinels),
                               sentinel_master_name=address.master or "", **options)
