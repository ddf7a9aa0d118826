"""A case's audit trail for the lead: the case file's and the plan's rows merged, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from web.client import Missing
from web.deps import User, Web
from web.pages.case_view import CASES, ident
from web.render import page

router = APIRouter()
PLAN_AUDIT = "/api/plans/v1/audit"
SHOWN = 1000  # one page of each trail; the page says when there is more


async def _plan_trail(web: Web, token: str, case_id: str) -> dict[str, Any]:
    """The plan's trail; empty while the plans service has not made the case's plan yet."""
    try:
        return await web.api.fetch("GET", PLAN_AUDIT, token, params={"case_id": case_id, "limit": SHOWN})  # type: ignore[no-any-return]
    except Missing:
        return {"items": [], "next_cursor": None}


@router.get("/cases/{case_id}/audit")
async def case_audit(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Who read or changed the case file and its plan, and when (the API lets only the lead read it)."""
    assert user.token is not None
    case = await web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token)
    cases = await web.api.fetch("GET", f"{CASES}/{case_id}/audit", user.token, params={"limit": SHOWN})
    plans = await _plan_trail(web, user.token, case_id)
    rows = [{**e, "part": "case"} for e in cases["items"]] + [{**e, "part": "plan"} for e in plans["items"]]
    rows.sort(key=lambda e: e["at"], reverse=True)
    more = cases["next_cursor"] is not None or plans["next_cursor"] is not None
    return await page(request, "plan/audit.html", case=case, rows=rows, more=more)
