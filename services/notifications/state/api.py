"""HTTP routes of the state node's notifications: the state roles' inbox and marking it read."""

from __future__ import annotations

from fastapi import APIRouter

from .. import service
from ..deps import Limit, SessionDep, Unread
from ..models import NotificationPublic, UnreadCount
from .deps import STATEWIDE, CurrentNotification, Reader

router = APIRouter(prefix="/api/notifications/v1", tags=["notifications"])


@router.get("/inbox", response_model=list[NotificationPublic])
def read_inbox(reader: Reader, session: SessionDep, unread: Unread = False,
               limit: Limit = 50) -> list[NotificationPublic]:
    """The notifications of the caller's state roles in every tenant, newest first."""
    rows = service.inbox(session, reader=reader, unread=unread, limit=limit,
                         statewide_roles=STATEWIDE)
    return [NotificationPublic.of(n, read_at) for n, read_at in rows]


@router.get("/inbox/unread", response_model=UnreadCount)
def count_unread(reader: Reader, session: SessionDep) -> UnreadCount:
    """How many of the caller's notifications the caller has not read yet (the header's counter)."""
    return UnreadCount(unread=service.unread_count(session, reader=reader, statewide_roles=STATEWIDE))


@router.post("/inbox/{notification_id}/read", response_model=NotificationPublic)
def mark_read(notification: CurrentNotification, reader: Reader,
              session: SessionDep) -> NotificationPublic:
    """Mark one of the caller's notifications read, per person (the first time counts)."""
    read_at = service.mark_read(session, notification=notification, reader=reader)
    return NotificationPublic.of(notification, read_at)
