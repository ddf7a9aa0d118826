"""State-side federation tables: the node registry and the replay guard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.events import utcnow


class RegisteredNode(SQLModel, table=True):
    """A municipal node the state accepts events from, with its health as last reported."""

    __tablename__ = "federation_node"

    node_id: str = Field(primary_key=True, max_length=63)
    tenants: list[str] = Field(sa_column=Column(JSON, nullable=False))
    public_key: str = Field(max_length=100)
    acl_user: str = Field(max_length=100)
    registered_at: datetime = Field(default_factory=utcnow)
    last_heartbeat_at: datetime | None = None
    version: str | None = None
    relay_lag: int | None = None
    outbox_backlog: int | None = None
    dead_letters: int | None = None
    accepted: int = 0
    rejected: int = 0
    silent_alerted: bool = False


class SeenEnvelope(SQLModel, table=True):
    """Every accepted envelope id: a second arrival is a replay and is rejected."""

    __tablename__ = "federation_seen"

    event_id: str = Field(primary_key=True, max_length=26)
    node_id: str = Field(max_length=63)
    received_at: datetime = Field(default_factory=utcnow)


FEDERATION_TABLES = [RegisteredNode.__table__, SeenEnvelope.__table__]  # type: ignore[attr-defined]
