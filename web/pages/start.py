"""The start page: where each role begins."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import Visitor
from web.render import page

router = APIRouter()


@router.get("/")
async def start(request: Request, visitor: Visitor) -> Response:
    """Managers start at their caseload; leads and funding officers at the start page's links; strangers sign in."""
    if not visitor.signed_in:
        return RedirectResponse("/login", status_code=303)
    if visitor.has("manager") and not visitor.has("lead"):
        return RedirectResponse("/cases", status_code=303)
    if visitor.has("state_operator"):
        return RedirectResponse("/state/nodes", status_code=303)
    if visitor.has("node_admin"):
        return RedirectResponse("/node", status_code=303)
    return await page(request, "start.html")
