"""Downloads of the funding exports (XLSX or CSV) for the signed-in user, on either level."""

from __future__ import annotations

from fastapi import APIRouter, Response

from web.client import Missing, checked
from web.deps import User, Web
from web.forms import parse_int
from web.pages.funding_common import EXPORTS, FORMATS

router = APIRouter()


@router.get("/funding/exports/{what}.{fmt}")
async def export(what: str, fmt: str, web: Web, user: User, year: str = "", sheet: str = "") -> Response:
    """The API's export as a download; what the user may not see the API refuses."""
    if what not in EXPORTS or fmt not in FORMATS or (year and parse_int(year) is None) or len(sheet) > 31:
        raise Missing(404, "not found")
    assert user.token is not None
    answer = await web.api.call("GET", f"/api/funding/v1/exports/{what}", user.token,
                                params={"format": fmt, "year": year, "sheet": sheet})
    if answer.status_code != 200:
        checked(answer)  # raises the matching refusal
    return Response(answer.content, media_type=answer.headers["content-type"],
                    headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")})
