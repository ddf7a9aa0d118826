"""What a service declares to the node runtime; services register it as a `lotse.services` entry point."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from redis.asyncio import Redis
from sqlalchemy import Table

from shared.bus.consumer import Subscription
from shared.db import Database
from shared.settings import Settings

LevelName = Literal["municipal", "state"]
Background = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceContext:
    """Everything a running service gets from the node: settings, its own database, the bus."""

    name: str
    settings: Settings
    db: Database | None
    redis: Redis | None = None

    @property
    def node(self) -> str:
        return self.settings.node_id

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError(f"service {self.name} is not running in this process")
        return self.db


def _none(ctx: ServiceContext) -> list[Any]:
    return []


@dataclass
class Level:
    """What a service runs at one level: its own tables, routes, subscriptions, background tasks."""

    tables: list[Table]
    router: APIRouter | None = None
    subscriptions: Callable[[ServiceContext], list[Subscription]] = _none
    background: Callable[[ServiceContext], list[Background]] = _none
    migrations: Path | None = None  # the Alembic script folder of this level's database


@dataclass
class ServiceSpec:
    """A service's parts at each level; the node runs the level it is configured for."""

    name: str
    municipal: Level
    state: Level = field(default_factory=lambda: Level(tables=[]))
    stream: str | None = None  # the stream this service produces to (for trimming)

    def at(self, level: LevelName | str) -> Level:
        return self.state if level == "state" else self.municipal


def discover() -> dict[str, ServiceSpec]:
    """All installed services, by name (entry-point group `lotse.services`)."""
    specs: dict[str, ServiceSpec] = {}
    for ep in entry_points(group="lotse.services"):
        spec = ep.load()
        specs[spec.name] = spec
    return specs
