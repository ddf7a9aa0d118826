"""Which node a command means (`--node DIR_OR_CONFIG`, `--config`, or LOTSE_* alone), and one way to fail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from shared.runtime.checks import Bus
from shared.runtime.failures import OperatorError
from shared.settings import Settings, load_settings

NodeOpt = Annotated[str | None, typer.Option("--node", help="the node's data dir or config file")]
T = TypeVar("T")
ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="TOML config file (or LOTSE_* env)")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Every failure ends here: one line on stderr (printed by the CLI's boundary), this exit code."""
    raise OperatorError(message, code)


@dataclass
class Target:
    """A node's settings, and what it recorded in its data dir when it last started (node.json)."""

    settings: Settings
    recorded: dict[str, Any] = field(default_factory=dict)

    def known_bus(self) -> Bus | None:
        """The node's Redis: the configured URL, else the embedded server it recorded, if any."""
        s = self.settings
        if s.redis_url:
            return Bus(s.redis_url)
        url = self.recorded.get("redis_url")
        return Bus(url, embedded=bool(self.recorded.get("embedded", True)), node_id=s.node_id) if url else None

    def bus(self) -> Bus:
        bus = self.known_bus()
        if bus is None:
            s = self.settings
            fail(f"node {s.node_id} has never run (no {s.data_dir / 'node.json'}) and LOTSE_REDIS_URL "
                 "is not set: start it with `lotse node up`", 1)
        return bus


def on_bus(t: Target, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(redis)` against the node's bus (its primary, through Sentinel if configured)."""
    from redis.asyncio import Redis

    from shared.runtime.checks import redis_client

    if t.settings.sentinels:
        return on_primary(t, work)
    bus = t.bus()
    redis_client(bus).close()  # one clear line for a stopped node or a wrong URL/password

    async def run() -> T:
        redis = Redis.from_url(bus.url, socket_connect_timeout=3)
        try:
            return await work(redis)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def on_primary(t: Target, work: Callable[[Any], Awaitable[T]]) -> T:
    """With LOTSE_REDIS_SENTINELS: the primary the Sentinels name now, as the node itself reaches it."""
    from redis.exceptions import RedisError

    from shared.bus.connection import BusAddress, bus_client

    s = t.settings
    address = BusAddress(s.redis_url, s.sentinels, s.redis_master)

    async def run() -> T:
        redis = bus_client(address)
        try:
            await redis.ping()
            return await work(redis)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(run())
    except RedisError as exc:
        fail(f"LOTSE_REDIS_SENTINELS: cannot reach primary {s.redis_master} through {address.describe()}: "
             f"{str(exc).splitlines()[0][:200]}", 1)


def recorded_in(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "node.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except ValueError:
        fail(f"{path}: not JSON; delete it, the node rewrites it at start", 1)
    return info if isinstance(info, dict) else {}


def target(node: str | None, config: str | None = None, **overrides: Any) -> Target:
    """The node a command works on; reads only, never creates a file or a directory."""
    if node is None:
        settings = load_settings(config, **overrides)
        return Target(settings, recorded_in(settings.data_dir))
    path = Path(node)
    if path.is_file() or (path / "lotse.toml").is_file():
        settings = load_settings(path, **overrides)
        return Target(settings, recorded_in(settings.data_dir))
    if not path.is_dir():
        fail(f"--node {node}: neither a node's data dir nor a config file")
    recorded = recorded_in(path)
    values: dict[str, Any] = {k: recorded[k] for k in ("node_id", "level", "tenants") if k in recorded}
    values.update(overrides, data_dir=path)
    return Target(load_settings(None, **values), recorded)
