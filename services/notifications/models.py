"""Tables and API schemas: the inbox and its mail (both levels), goal watches (municipal level)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import Index, String, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic

SUB_MAX = 255


class Kind(StrEnum):
    """The rule that created a notification."""

    extension_decided = "extension_decided"
    case_opened = "case_opened"
    goal_overdue = "goal_overdue"
    node_silent = "node_silent"


class WatchState(StrEnum):
    """Where a goal watch stands: waiting for its date, ended by the goal's status, or fired."""

    watching = "watching"
    ended = "ended"
    fired = "fired"


class MailState(StrEnum):
    """A notification's e-mail: waiting, leased by a sender, sent, not sendable, or given up."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    skipped = "skipped"
    failed = "failed"


class Notification(SQLModel, table=True):
    """One message for a user (recipient_sub) or a role within a tenant (recipient_role)."""

    __tablename__ = "notifications_notification"
    # A rule fires once per source: the same event (or goal) never notifies twice.
    __table_args__ = (
        UniqueConstraint("kind", "source", name="ux_notifications_kind_source"),
        Index("ix_notifications_role", "tenant", "recipient_role", "created_at"),
        Index("ix_notifications_sub", "recipient_sub", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(max_length=8)
    recipient_sub: str | None = Field(default=None, max_length=SUB_MAX)
    recipient_role: str | None = Field(default=None, max_length=32)
    kind: Kind = Field(sa_type=String(40))
    source: str = Field(max_length=100)  # the event id, or the goal id for overdue checks
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class ReadReceipt(SQLModel, table=True):
    """When one reader marked a notification read (role notifications are read per person)."""

    __tablename__ = "notifications_read"

    notification_id: str = Field(primary_key=True, max_length=26,
                                 foreign_key="notifications_notification.id")
    sub: str = Field(primary_key=True, max_length=SUB_MAX)
    read_at: datetime = Field(default_factory=utcnow)


class OutgoingMail(SQLModel, table=True):
    """The e-mail of one notification, written with it and sent by the mail sender."""

    __tablename__ = "notifications_mail"
    __table_args__ = (Index("ix_notifications_mail_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=26, unique=True,
                                 foreign_key="notifications_notification.id")
    recipient: str | None = Field(default=None, max_length=320)
    message_id: str = Field(max_length=200)
    state: MailState = Field(sa_type=String(10))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class GoalWatch(SQLModel, table=True):
    """A plan goal with a target date, checked by the scheduler until achieved or dropped."""

    __tablename__ = "notifications_goal_watch"
    __table_args__ = (Index("ix_notifications_goal_due", "state", "due_on"),)

    goal_id: str = Field(primary_key=True, max_length=100)
    plan_id: str = Field(max_length=100)
    tenant: str = Field(max_length=8)
    manager: str = Field(max_length=SUB_MAX)
    area: Topic = Field(sa_type=String(20))
    due_on: date
    status: GoalStatus = Field(sa_type=String(20))
    plan_version: int
    state: WatchState = Field(sa_type=String(10))
    fired_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


# Both levels keep an inbox and its mail; only a municipal node watches goals.
INBOX_TABLES = [_table(Notification), _table(ReadReceipt), _table(OutgoingMail)]
TABLES = [*INBOX_TABLES, _table(GoalWatch)]


# -- API schemas ------------------------------------------------------------------------------
class NotificationPublic(BaseModel):
    """A notification as its reader sees it; `read_at` is when this reader marked it read."""

    id: str
    tenant: str
    kind: Kind
    title: str
    body: str
    recipient_sub: str | None
    recipient_role: str | None
    source: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, n: Notification, read_at: datetime | None) -> NotificationPublic:
        return cls(id=n.id, tenant=n.tenant, kind=n.kind, title=n.title, body=n.body,
                   recipient_sub=n.recipient_sub, recipient_role=n.recipient_role,
                   source=n.source, created_at=n.created_at, read_at=read_at)
