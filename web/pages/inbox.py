"""The inbox: the user's notifications, newest first, and marking one read."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import User, Web
from web.pages.case_view import ident
from web.render import is_htmx, page, partial, unread_count

router = APIRouter()
INBOX = "/api/notifications/v1/inbox"
SHOWN = 50


@router.get("/inbox")
async def inbox(request: Request, web: Web, user: User) -> Response:
    """The latest notifications addressed to the user or their role."""
    assert user.token is not None
    items = await web.api.fetch("GET", INBOX, user.token, params={"limit": SHOWN})
    return await page(request, "inbox.html", items=items)


@router.post("/inbox/{notification_id}/read")
async def mark_read(request: Request, notification_id: str, web: Web, user: User) -> Response:
    """Mark one notification read; HTMX swaps it and the header's counter."""
    assert user.token is not None
    n = await web.api.fetch("POST", f"{INBOX}/{ident(notification_id)}/read", user.token)
    if is_htmx(request):
        return partial(request, "partials/notification.html", n=n, oob=True, unread=await unread_count(request))
    return RedirectResponse(f"/inbox#n-{notification_id}", status_code=303)
