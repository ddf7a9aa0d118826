"""What the state routes depend on: a state caller and the caller's notification, statewide."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.http import STATE_ROLES, StateCaller

from .. import service
from ..deps import NotificationId, SessionDep, not_found
from ..models import Notification

# Only the state roles read an inbox here; statewide: the token's tenants do not limit them.
Reader = StateCaller
STATEWIDE = frozenset(STATE_ROLES)


def current_notification(reader: Reader, notification_id: NotificationId,
                         session: SessionDep) -> Notification:
    """The state caller's notification; missing and someone else's are the same 404."""
    n = service.find_notification(session, notification_id=notification_id, reader=reader,
                                  statewide_roles=STATEWIDE)
    if n is None:
        raise not_found()
    return n


CurrentNotification = Annotated[Notification, Depends(current_notification)]
