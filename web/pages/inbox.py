"""The inbox: the user's notifications, newest first, and marking one read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import Forbidden, Missing, together
from web.deps import User, Web, WebState
from web.pages.case_view import ident
from web.render import is_htmx, page, partial, unread_count

router = APIRouter()
INBOX = "/api/notifications/v1/inbox"
APPLICATIONS = "/api/funding/v1/extension-applications"
SHOWN = 50


async def with_letter(web: WebState, token: str, n: dict[str, Any]) -> dict[str, Any]:
    """A decision's notification with its letter's address, when the letter exists on this node."""
    data = n.get("data") or {}
    if n.get("kind") != "extension_decided" or not data.get("application_id") or not data.get("position_id"):
        return n
    try:
        application = await web.api.fetch("GET", f"{APPLICATIONS}/{ident(data['application_id'])}", token)
        url = f"/positions/{ident(application['position_id'])}/applications/{ident(application['id'])}/letter.pdf"
    except (Missing, Forbidden):  # not this caller's, no such id, or no funding service on this node
        return n
    return {**n, "letter_url": url} if application.get("has_letter") else n


@router.get("/inbox")
async def inbox(request: Request, web: Web, user: User) -> Response:
    """The latest notifications addressed to the user or their role."""
    assert user.token is not None
    found = await web.api.fetch("GET", INBOX, user.token, params={"limit": SHOWN})
    items = await together(*(with_letter(web, user.token, n) for n in found))
    return await page(request, "inbox.html", fresh_count=True, items=items)


@router.post("/inbox/{notification_id}/read")
async def mark_read(request: Request, notification_id: str, web: Web, user: User) -> Response:
    """Mark one notification read; HTMX swaps it and the header's counter."""
    assert user.token is not None
    n = await with_letter(web, user.token, await web.api.fetch("POST", f"{INBOX}/{ident(notification_id)}/read",
                                                                user.token))
    if is_htmx(request):
        unread = await unread_count(request, fresh=True)
        return partial(request, "partials/notification.html", n=n, oob=True, unread=unread)
    return RedirectResponse(f"/inbox#n-{notification_id}", status_code=303)
