"""The notifications' part of a case's erasure (CaseErased): every notification about the case goes, with its
read receipts and mails, and so do the case's watches and reminders."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db import wipe_after_commit

from .models import GoalWatch, Notification, OutgoingMail, ReadReceipt, Reminder


def erase_case(session: Session, *, tenant: str, case_id: str) -> int:
    """Delete what the notifications service holds about the case; how many notifications went."""
    about = col(Notification.data)["case_id"].as_string() == case_id
    ids = list(session.exec(select(Notification.id).where(Notification.tenant == tenant, about)).all())
    if ids:
        session.execute(sa.delete(ReadReceipt).where(col(ReadReceipt.notification_id).in_(ids)))
        session.execute(sa.delete(OutgoingMail).where(col(OutgoingMail.notification_id).in_(ids)))
        session.execute(sa.delete(Notification).where(col(Notification.id).in_(ids)))
    session.execute(sa.delete(GoalWatch).where(col(GoalWatch.case_id) == case_id, col(GoalWatch.tenant) == tenant))
    session.execute(sa.delete(Reminder).where(col(Reminder.case_id) == case_id, col(Reminder.tenant) == tenant))
    wipe_after_commit(session)  # the overwritten texts leave the file, too
    return len(ids)
