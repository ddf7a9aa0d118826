"""The state level's federation tables (the node registry, the replay guard) and the registry's answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.privacy import AGS_CODE, ID, NODE_ID, TIMESTAMP


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every one stored here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RegisteredNode(SQLModel, table=True):
    """A municipal node the state accepts events from, with its health as last reported."""

    __tablename__ = "federation_node"
    __not_personal__ = {
        "node_id": NODE_ID, "tenants": AGS_CODE, "public_key": "a node's public signing key",
        "previous_public_key": "a node's public signing key", "previous_key_until": TIMESTAMP,
        "acl_user": "the node's Redis user: named after the node", "registered_at": TIMESTAMP,
        "last_heartbeat_at": TIMESTAMP, "version": "the software version a node runs",
        "box_key": "a node's public X25519 key (hand-over parcels are sealed for it)",
        "listed": "a node's municipalities (AGS) and public signing key as the directory last listed them",
    }

    node_id: str = Field(primary_key=True, max_length=63)
    tenants: list[str] = Field(sa_column=Column(JSON, nullable=False))
    public_key: str = Field(max_length=100)
    # During a key rotation the old key still verifies until previous_key_until (the overlap).
    previous_public_key: str | None = Field(default=None, max_length=100)
    previous_key_until: datetime | None = None
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
    # Its public X25519 key (NodeBoxKey); its municipalities and signing key as the last NodeDirectory listed them.
    box_key: str | None = Field(default=None, max_length=100)
    listed: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    def listing(self) -> list[Any]:
        """What the directory says of this node besides its box key: [municipalities, signing key]."""
        return [list(self.tenants), self.public_key]

    def keys_at(self, now: datetime) -> list[str]:
        """The public keys whose signatures count at this moment: the current one, then the old one."""
        if self.previous_public_key and self.previous_key_until and aware(self.previous_key_until) > now:
            return [self.public_key, self.previous_public_key]
        return [self.public_key]


class SeenEnvelope(SQLModel, table=True):
    """Every accepted envelope id: a second arrival is a replay and is rejected."""

    __tablename__ = "federation_seen"
    __not_personal__ = {"event_id": ID, "node_id": NODE_ID, "received_at": TIMESTAMP}

    event_id: str = Field(primary_key=True, max_length=26)
    node_id: str = Field(max_length=63)
    received_at: datetime = Field(default_factory=utcnow)


class NodeStatus(BaseModel):
    """A registered node as the state's operators see it."""

    node_id: str
    tenants: list[str]
    registered_at: datetime
    last_heartbeat_at: datetime | None
    last_seen_age_s: float | None
    version: str | None
    relay_lag: int | None
    outbox_backlog: int | None
    dead_letters: int | None
    accepted: int
    rejected: int
    silent: bool
    previous_key_until: datetime | None = None


# Only the state level has tables; a municipal node's relay keeps its checkpoint on its own bus.
FEDERATION_TABLES = [RegisteredNode.__table__, SeenEnvelope.__table__]  # type: ignore[attr-defined]
