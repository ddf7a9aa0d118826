"""The start page: where each role begins."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import Visitor
from web.render import page

router = APIRouter()


@router.get("/")
async def start(request: Request, visitor: Visitor) -> Response:
    """Managers and leads start at the caseload; everyone else at their start page; strangers sign in."""
    if not visitor.signed_in:
        return RedirectResponse("/login", status_code=303)
    if visitor.has("manager", "lead"):
        return RedirectResponse("/cases", status_code=303)
    return await page(request, "start.html")
