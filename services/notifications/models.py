"""Tables and API schemas of the notifications service: inbox, read receipts, goal watches, mail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.events import utcnow

Kind = Literal["extension_decided", "case_opened", "goal_overdue", "node_silent"]
WatchState = Literal["watching", "ended", "fired"]
MailState = Literal["pending", "sending", "sent", "skipped", "failed"]
SUB_MAX = 255


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
    kind: str = Field(max_length=40)  # Kind
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


class GoalWatch(SQLModel, table=True):
    """A plan goal with a target date, checked by the scheduler until achieved or dropped."""

    __tablename__ = "notifications_goal_watch"
    __table_args__ = (Index("ix_notifications_goal_due", "state", "due_on"),)

    goal_id: str = Field(primary_key=True, max_length=100)
    plan_id: str = Field(max_length=100)
    tenant: str = Field(max_length=8)
    manager: str = Field(max_length=SUB_MAX)
    area: str = Field(max_length=20)
    due_on: date
    status: str = Field(max_length=20)  # GoalStatus
    plan_version: int
    state: str = Field(max_length=10)  # WatchState
    fired_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class OutgoingMail(SQLModel, table=True):
    """The e-mail of one notification, written with it and sent by the mail sender."""

    __tablename__ = "notifications_mail"
    __table_args__ = (Index("ix_notifications_mail_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=26, unique=True,
                                 foreign_key="notifications_notification.id")
    recipient: str | None = Field(default=None, max_length=320)
    message_id: str = Field(max_length=200)
    state: str = Field(max_length=10)  # MailState
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


TABLES = [Notification.__table__, ReadReceipt.__table__,  # type: ignore[attr-defined]
          GoalWatch.__table__, OutgoingMail.__table__]  # type: ignore[attr-defined]


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
        return cls(id=n.id, tenant=n.tenant, kind=n.kind,  # type: ignore[arg-type]
                   title=n.title, body=n.body, recipient_sub=n.recipient_sub,
                   recipient_role=n.recipient_role, source=n.source,
                   created_at=n.created_at, read_at=read_at)
