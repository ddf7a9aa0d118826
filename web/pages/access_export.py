"""The lead's answer to an access request (Art. 15 GDPR): the export of everything held, and the break-glass record."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from web.client import checked
from web.deps import User, Web
from web.pages.case_view import CASES, ident
from web.render import page

router = APIRouter()
FORMATS = {"json": "application/json", "pdf": "application/pdf"}
PLAN_EXPORT = "/api/plans/v1/export"  # the plans service's part of the export


@router.get("/cases/{case_id}/export")
async def export_page(request: Request, case_id: str, web: Web, user: User) -> Response:
    """What the export holds, the downloads, and who opened the case as a stand-in (the API lets only the lead)."""
    assert user.token is not None
    case = await web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token)
    grants = await web.api.fetch("GET", f"{CASES}/{case_id}/break-glass", user.token)
    return await page(request, "privacy/export.html", case=case, grants=list(reversed(grants)))


@router.get("/cases/{case_id}/export.{kind}")
async def download(case_id: str, kind: str, web: Web, user: User) -> Response:
    """The export itself from the cases service, as a file (each download is recorded in the audit trail)."""
    assert user.token is not None
    if kind not in FORMATS:
        ident("")  # not one of our files: as missing as an unknown case
    answer = await web.api.call("GET", f"{CASES}/{ident(case_id)}/export", user.token, params={"format": kind})
    if answer.status_code != 200:
        checked(answer)  # raises the matching refusal
    return Response(answer.content, media_type=FORMATS[kind], headers={
        "Content-Disposition": f'attachment; filename="auskunft-{case_id}.{kind}"'})


@router.get("/cases/{case_id}/plan-export.{kind}")
async def download_plan(case_id: str, kind: str, web: Web, user: User) -> Response:
    """The plans service's part of the export: the plan, its versions and who accessed it (recorded too)."""
    assert user.token is not None
    if kind not in FORMATS:
        ident("")
    answer = await web.api.call("GET", PLAN_EXPORT, user.token, params={"case_id": ident(case_id), "format": kind})
    if answer.status_code != 200:
        checked(answer)
    return Response(answer.content, media_type=FORMATS[kind], headers={
        "Content-Disposition": f'attachment; filename="auskunft-plan-{case_id}.{kind}"'})
