"""What the municipal routes depend on: the unit of work, the reader, the reader's notification."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, status
from sqlmodel import Session

from shared.auth import PrincipalDep
from shared.http import session_dependency
from shared.ids import ULID_PATTERN

from . import service
from .models import Notification

SessionDep = Annotated[Session, session_dependency("notifications")]
# Every role reads its own inbox on a municipal node.
Reader = PrincipalDep
NotificationId = Annotated[str, Path(max_length=26, pattern=ULID_PATTERN)]
Unread = Annotated[bool, Query(description="only notifications not yet read")]
Limit = Annotated[int, Query(ge=1, le=200)]
# The same answer for a missing notification and one addressed to someone else: no probing.
NOT_FOUND = [{"field": "notification_id", "reason": "no such notification"}]


def not_found() -> HTTPException:
    """The 404 of a notification the reader cannot see, naming the path field."""
    return HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)


def current_notification(reader: Reader, notification_id: NotificationId,
                         session: SessionDep) -> Notification:
    """The reader's notification; missing and someone else's are the same 404."""
    n = service.find_notification(session, notification_id=notification_id, reader=reader)
    if n is None:
        raise not_found()
    return n


CurrentNotification = Annotated[Notification, Depends(current_notification)]
