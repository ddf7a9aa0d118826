"""Tables and API schemas: the inbox and its mail (both levels), goal watches (municipal level)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, String, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.privacy import AGS_CODE, CODE, ID, TIMESTAMP, DataClass, Personal, Retention

SUB_MAX = 255
NOTIFYING = "telling staff what needs their attention in their cases and positions"
RECIPIENT = Personal(DataClass.staff, NOTIFYING, Retention.notification)
ABOUT_A_CASE = Personal(DataClass.case_content, NOTIFYING, Retention.notification)  # ids and dates of a case


class Kind(StrEnum):
    """The rule that created a notification."""

    extension_decided = "extension_decided"
    case_opened = "case_opened"
    goal_overdue = "goal_overdue"
    node_silent = "node_silent"
    plan_review_due = "plan_review_due"
    counselling_ends = "counselling_ends"
    break_glass_opened = "break_glass_opened"
    handover_received = "handover_received"  # a case handed over to the municipality, to accept or decline
    handover_answered = "handover_answered"  # the other municipality accepted or declined a hand-over


class WatchState(StrEnum):
    """Where a goal watch or a reminder stands: waiting for its date, ended, or fired."""

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

    __not_personal__ = {"id": ID, "tenant": AGS_CODE, "recipient_role": CODE, "kind": CODE,
                        "created_at": TIMESTAMP}
    __personal__ = {"recipient_sub": RECIPIENT, "source": ABOUT_A_CASE, "title": ABOUT_A_CASE,
                    "body": ABOUT_A_CASE, "data": ABOUT_A_CASE}

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(max_length=8)
    recipient_sub: str | None = Field(default=None, max_length=SUB_MAX)
    recipient_role: str | None = Field(default=None, max_length=32)
    kind: Kind = Field(sa_type=String(40))
    source: str = Field(max_length=100)  # the event id, or the goal id and date for overdue checks
    title: str = Field(max_length=200)  # English, for the e-mail
    body: str = Field(max_length=2000)
    # What the page needs to say it in the reader's language: ids, codes, ISO dates (no names, no text).
    data: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    created_at: datetime = Field(default_factory=utcnow)


class ReadReceipt(SQLModel, table=True):
    """When one reader marked a notification read (role notifications are read per person)."""

    __tablename__ = "notifications_read"
    __not_personal__ = {"notification_id": ID}
    __personal__ = {"sub": RECIPIENT, "read_at": RECIPIENT}

    notification_id: str = Field(primary_key=True, max_length=26,
                                 foreign_key="notifications_notification.id")
    sub: str = Field(primary_key=True, max_length=SUB_MAX)
    read_at: datetime = Field(default_factory=utcnow)


class OutgoingMail(SQLModel, table=True):
    """The e-mail of one notification, written with it and sent by the mail sender."""

    __tablename__ = "notifications_mail"
    __table_args__ = (Index("ix_notifications_mail_due", "state", "next_attempt_at"),)
    __not_personal__ = {"notification_id": ID, "state": CODE, "next_attempt_at": TIMESTAMP,
                        "lease_until": TIMESTAMP, "sent_at": TIMESTAMP, "created_at": TIMESTAMP,
                        "last_error": "the mail server's answer to a delivery attempt"}
    __personal__ = {"recipient": RECIPIENT, "message_id": RECIPIENT}

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
    __not_personal__ = {"goal_id": ID, "plan_id": ID, "case_id": ID, "tenant": AGS_CODE, "area": CODE,
                        "status": CODE, "state": CODE, "fired_at": TIMESTAMP, "updated_at": TIMESTAMP}
    __personal__ = {"manager": RECIPIENT, "due_on": ABOUT_A_CASE}

    goal_id: str = Field(primary_key=True, max_length=100)
    plan_id: str = Field(max_length=100)
    case_id: str | None = Field(default=None, max_length=100)  # for a link to the case
    tenant: str = Field(max_length=8)
    manager: str = Field(max_length=SUB_MAX)
    area: Topic = Field(sa_type=String(20))
    due_on: date
    status: GoalStatus = Field(sa_type=String(20))
    plan_version: int
    state: WatchState = Field(sa_type=String(10))
    fired_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """A date a manager is reminded of ahead of time: a plan's next review, the end of a case's counselling."""

    __tablename__ = "notifications_reminder"
    __table_args__ = (Index("ix_notifications_reminder_due", "state", "remind_on"),
                      Index("ix_notifications_reminder_case", "case_id"))
    __not_personal__ = {"kind": CODE, "subject": ID, "tenant": AGS_CODE, "case_id": ID, "plan_id": ID,
                        "state": CODE, "newer_than": "a plan version or an event's time: orders announcements",
                        "fired_at": TIMESTAMP, "updated_at": TIMESTAMP}
    __personal__ = {"manager": RECIPIENT, "about_on": ABOUT_A_CASE, "remind_on": ABOUT_A_CASE}

    kind: Kind = Field(primary_key=True, sa_type=String(40))
    subject: str = Field(primary_key=True, max_length=100)  # the plan (review) or the case (counselling)
    tenant: str = Field(max_length=8)
    case_id: str = Field(max_length=100)
    plan_id: str | None = Field(default=None, max_length=100)
    manager: str = Field(max_length=SUB_MAX)
    about_on: date  # the review day, the last day of counselling
    remind_on: date
    state: WatchState = Field(sa_type=String(10))
    newer_than: str = Field(max_length=80)  # what orders announcements: a plan version, an event time
    fired_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


# Both levels keep an inbox and its mail; only a municipal node watches goals.
INBOX_TABLES = [_table(Notification), _table(ReadReceipt), _table(OutgoingMail)]
TABLES = [*INBOX_TABLES, _table(GoalWatch), _table(Reminder)]


# -- API schemas ------------------------------------------------------------------------------
class UnreadCount(BaseModel):
    """The caller's unread notifications, counted."""

    unread: int


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
    data: dict[str, str]
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, n: Notification, read_at: datetime | None) -> NotificationPublic:
        return cls(id=n.id, tenant=n.tenant, kind=n.kind, title=n.title, body=n.body,
                   recipient_sub=n.recipient_sub, recipient_role=n.recipient_role,
                   source=n.source, data=dict(n.data or {}), created_at=n.created_at, read_at=read_at)
