"""HTTP routes of the notifications service: the caller's inbox and marking notifications read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from shared.auth import Principal, PrincipalDep, require_roles
from shared.service import ServiceContext

from . import service
from .models import NotificationPublic

PREFIX = "/api/notifications/v1"
ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
# The same answer for a missing notification and one addressed to someone else: no probing.
NOT_FOUND = [{"field": "notification_id", "reason": "no such notification"}]


def router(ctx: ServiceContext) -> APIRouter:
    """Every role reads its own inbox on a municipal node; only the state roles on the state one."""
    api = APIRouter(prefix=PREFIX, tags=["notifications"])
    db = ctx.database
    statewide = ctx.settings.level == "state"

    def authorised(principal: Principal) -> Principal:
        if statewide:  # state users are statewide: the token's tenants do not limit them here
            require_roles(principal, *sorted(service.STATE_ROLES))
        return principal

    @api.get("/inbox", response_model=list[NotificationPublic])
    def read_inbox(
        principal: PrincipalDep,
        unread: Annotated[bool, Query(description="only notifications not yet read")] = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[NotificationPublic]:
        with db.session() as session:
            rows = service.inbox(session, reader=authorised(principal), unread=unread, limit=limit,
                                 statewide=statewide)
        return [NotificationPublic.of(n, read_at) for n, read_at in rows]

    @api.post("/inbox/{notification_id}/read", response_model=NotificationPublic)
    def mark_read(
        notification_id: Annotated[str, Path(max_length=26, pattern=ULID_PATTERN)],
        principal: PrincipalDep,
    ) -> NotificationPublic:
        with db.session() as session:
            try:
                n, read_at = service.mark_read(session, notification_id=notification_id,
                                               reader=authorised(principal), statewide=statewide)
            except service.NotFound:
                raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
            session.commit()
        return NotificationPublic.of(n, read_at)

    return api
