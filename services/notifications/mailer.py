"""E-mail channel: a mail row per notification, sent over SMTP with leases, retries and backoff."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from shared.db import Database
from shared.events import utcnow
from shared.settings import Settings

from .models import MailState, Notification, OutgoingMail

if TYPE_CHECKING:  # the domain imports this module: no web framework through shared.service
    from shared.service import Background, ServiceContext

log = logging.getLogger(__name__)
RETRY_BASE_S = 1.0  # first retry after 1 s, doubling per attempt
RETRY_CAP_S = 3600.0
MAX_ATTEMPTS = 15  # about four hours of retries before a mail is given up
LEASE_S = 120.0  # a claimed mail whose sender died is retried after this
SMTP_TIMEOUT_S = 30.0
BATCH = 50


@dataclass(frozen=True)
class MailConfig:
    """SMTP server, sender and mailboxes ("<AGS>:<role>" or a user id) of this node."""

    node: str
    host: str | None = None
    port: int = 25
    sender: str = "lotse@localhost"
    mailboxes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> MailConfig:
        return cls(node=settings.node_id, host=settings.smtp_host, port=settings.smtp_port,
                   sender=settings.smtp_sender, mailboxes=dict(settings.mailboxes))

    def mailbox(self, n: Notification) -> tuple[str | None, str]:
        """The recipient's address and the mailbox key it was looked up by."""
        key = n.recipient_sub if n.recipient_sub is not None else f"{n.tenant}:{n.recipient_role}"
        return (self.mailboxes.get(key) or None), key


def message_id_for(notification_id: str, node: str) -> str:
    """Deterministic: a resend after a crash between send and mark carries the same Message-ID."""
    return f"<notification-{notification_id}@{node}.lotse>"


def enqueue(session: Session, n: Notification, config: MailConfig) -> OutgoingMail:
    """The notification's mail row, in the notification's transaction; skipped without a channel."""
    address, key = config.mailbox(n)
    reason = ("no SMTP server configured" if not config.host
              else None if address else f"no mailbox for {key}"[:500])
    mail = OutgoingMail(notification_id=n.id, recipient=address,
                        message_id=message_id_for(n.id, config.node),
                        state=MailState.skipped if reason else MailState.pending, last_error=reason)
    session.add(mail)
    return mail


def build_message(n: Notification, mail: OutgoingMail, config: MailConfig) -> EmailMessage:
    """The same bytes on every attempt: headers come from the stored rows only."""
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = mail.recipient or ""
    msg["Subject"] = n.title
    msg["Message-ID"] = mail.message_id
    msg["Date"] = format_datetime(n.created_at.astimezone(UTC))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Lotse-Notification"] = n.id
    msg.set_content(f"{n.body}\n\n-- \nLotse ({config.node}), notification {n.id}\n")
    return msg


def deliver(config: MailConfig, message: EmailMessage) -> None:
    """Hand one message to the SMTP server (blocking; run in a thread)."""
    assert config.host is not None
    with smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_S) as smtp:
        smtp.send_message(message)


def permanent(exc: Exception) -> bool:
    """A 5xx answer will not change on retry; connection errors and 4xx answers may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def backoff(attempts: int) -> timedelta:
    """Exponential: 1 s, 2 s, 4 s, ... capped at an hour."""
    return timedelta(seconds=min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(attempts - 1, 0)))


def _due() -> Any:
    t = utcnow()
    return or_(and_(col(OutgoingMail.state) == MailState.pending, col(OutgoingMail.next_attempt_at) <= t),
               and_(col(OutgoingMail.state) == MailState.sending, col(OutgoingMail.lease_until) < t))


def claim_next(db: Database) -> tuple[OutgoingMail, Notification] | None:
    """Lease the next due mail (state "sending"); its attempt count fences the later update."""
    with db.session() as s:
        while True:
            mail = s.exec(select(OutgoingMail).where(_due())
                          .order_by(col(OutgoingMail.next_attempt_at), col(OutgoingMail.id))
                          .limit(1)).first()
            if mail is None:
                return None
            claimed = s.execute(
                update(OutgoingMail).where(col(OutgoingMail.id) == mail.id, _due())
                .values(state=MailState.sending, attempts=OutgoingMail.attempts + 1,
                        lease_until=utcnow() + timedelta(seconds=LEASE_S)))
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                s.commit()
                s.refresh(mail)
                notification = s.get(Notification, mail.notification_id)
                assert notification is not None
                return mail, notification
            s.rollback()  # another sender took it first


def _finish(db: Database, mail: OutgoingMail, **values: Any) -> bool:
    """Update a mail we still hold (same lease, same attempt); False if the lease was lost."""
    with db.session() as s:
        done = s.execute(update(OutgoingMail).where(
            col(OutgoingMail.id) == mail.id, col(OutgoingMail.state) == MailState.sending,
            col(OutgoingMail.attempts) == mail.attempts).values(lease_until=None, **values))
        s.commit()
        return bool(done.rowcount)  # type: ignore[attr-defined]


def mark_sent(db: Database, mail: OutgoingMail) -> bool:
    return _finish(db, mail, state=MailState.sent, sent_at=utcnow(), last_error=None)


def mark_failed(db: Database, mail: OutgoingMail, exc: Exception, give_up: bool = False) -> bool:
    """Schedule the next attempt with backoff, or give up on a permanent error or after the last."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    if give_up or permanent(exc) or mail.attempts >= MAX_ATTEMPTS:
        return _finish(db, mail, state=MailState.failed, last_error=error)
    return _finish(db, mail, state=MailState.pending, last_error=error,
                   next_attempt_at=utcnow() + backoff(mail.attempts))


def send_due(db: Database, config: MailConfig,
             send: Callable[[MailConfig, EmailMessage], None] = deliver) -> int:
    """Send what is due, one claimed mail at a time; returns how many were sent."""
    sent = 0
    for _ in range(BATCH):
        claimed = claim_next(db)
        if claimed is None:
            break
        mail, notification = claimed
        try:
            message = build_message(notification, mail, config)
        except Exception as exc:  # a message that cannot be built now never will be
            log.error("mail %s for notification %s cannot be built: %s", mail.id,
                      notification.id, exc)
            mark_failed(db, mail, exc, give_up=True)
            continue
        try:
            send(config, message)
        except Exception as exc:
            log.warning("mail %s for notification %s failed (attempt %s): %s", mail.id,
                        notification.id, mail.attempts, exc)
            mark_failed(db, mail, exc)
            continue
        sent += 1
        if not mark_sent(db, mail):
            log.warning("mail %s was sent after its lease expired; a resend keeps %s", mail.id,
                        mail.message_id)
    return sent


def background(ctx: ServiceContext) -> list[Background]:
    """The mail sender, wherever SMTP is configured (at either level)."""
    return [mail_sender(ctx)] if ctx.settings.smtp_host else []


def mail_sender(ctx: ServiceContext) -> Background:
    """The background task: poll for due mail (at most every second) and send it in a thread."""
    db, config = ctx.database, MailConfig.of(ctx.settings)
    interval = min(1.0, ctx.settings.scheduler_interval_s)

    async def run() -> None:
        while True:
            try:
                await asyncio.to_thread(send_due, db, config)
            except Exception:
                log.exception("mail sender of %s failed", config.node)
            await asyncio.sleep(interval)

    return run
