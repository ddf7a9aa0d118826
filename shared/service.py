"""What a service declares to the node runtime; services register it as a `lotse.services` entry point."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from fastapi import APIRouter
from redis.asyncio import Redis
from sqlalchemy import Table

from shared.auth import Authenticator
from shared.bus.consumer import Subscription
from shared.db import Database
from shared.settings import Settings


@dataclass
class ServiceContext:
    """Everything a running service gets from the node: settings, its own database, the bus."""

    name: str
    settings: Settings
    db: Database | None
    authenticator: Authenticator | None = None
    redis: Redis | None = None

    @property
    def node(self) -> str:
        return self.settings.node_id

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError(f"service {self.name} is not running in this process")
        return self.db


@dataclass
class ServiceSpec:
    """A service's parts: its tables, HTTP router, subscriptions and background tasks."""

    name: str
    tables: list[Table]
    router: Callable[[ServiceContext], APIRouter]
    subscriptions: Callable[[ServiceContext], list[Subscription]] = lambda ctx: []
    background: Callable[[ServiceContext], list[Callable[[], Coroutine[Any, Any, None]]]] = (
        lambda ctx: []
    )
    stream: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def discover() -> dict[str, ServiceSpec]:
    """All installed services, by name (entry-point group `lotse.services`)."""
    specs: dict[str, ServiceSpec] = {}
    for ep in entry_points(group="lotse.services"):
        spec = ep.load()
        specs[spec.name] = spec
    return specs
