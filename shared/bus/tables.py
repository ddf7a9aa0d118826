"""Outbox and inbox tables; every service database has both."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.privacy import ID, TIMESTAMP, DataClass, Retention, personal


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the state change; the relay publishes it."""

    __tablename__ = "bus_outbox"
    __table_args__ = (Index("ix_bus_outbox_unpublished", "published_at", "id"),)
    __not_personal__ = {"event_id": ID, "stream": "the name of a stream", "created_at": TIMESTAMP,
                        "published_at": TIMESTAMP}

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=26, unique=True)
    stream: str = Field(max_length=200)
    # Events carry ids and codes; local ones also the manager's user id, never a client's name or notes.
    body: str = personal(DataClass.staff, "delivering events between the node's services", Retention.delivery)
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class InboxEntry(SQLModel, table=True):
    """Marks an event as processed by a consumer group, in the transaction of its effects."""

    __tablename__ = "bus_inbox"
    __not_personal__ = {"group": "the name of a consumer group", "event_id": ID, "processed_at": TIMESTAMP}

    group: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=26)
    processed_at: datetime = Field(default_factory=utcnow)


BUS_TABLES = [OutboxEvent.__table__, InboxEntry.__table__]  # type: ignore[attr-defined]
