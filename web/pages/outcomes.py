"""The state's outcome figures of casework per year: time to independence, periods that ran out, eligibility."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from web.client import ApiError
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_int
from web.i18n import N_
from web.render import gettext_for, page
from web.users import municipality

router = APIRouter()
NODES = "/api/federation/v1/nodes"
OUTCOMES = "/api/cases/v1/statistics/outcomes"
FIELDS = {"year": N_("Year"), "tenant": N_("Municipality")}


@router.get("/state/outcomes")
async def outcomes(request: Request, web: Web, user: User) -> Response:
    """One year's case outcomes, statewide or for one municipality; withheld figures say so."""
    assert user.token is not None
    gettext = gettext_for(request).gettext
    values = {name: request.query_params.get(name, "").strip()[:20] for name in FIELDS}
    values["year"] = values["year"] or str(date.today().year - 1)  # the last full year
    nodes = await web.api.fetch("GET", NODES, user.token)
    tenants = sorted({t for n in nodes for t in n["tenants"]}, key=municipality)
    errors = FormErrors()
    year = parse_int(values["year"])
    if year is None:
        errors.add("year", gettext("Enter the year as four digits, for example 2025"))
    if values["tenant"] and values["tenant"] not in tenants:
        errors.add("tenant", gettext("Choose a municipality from the list"))
    figures = None
    if not errors:
        try:
            figures = await web.api.fetch("GET", OUTCOMES, user.token,
                                          params={"year": year, "tenant": values["tenant"] or None})
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, FIELDS, list(FIELDS))
    return await page(request, "statewide/outcomes.html", status_code=422 if errors else 200, errors=errors,
                      values=values, tenants=[(t, municipality(t)) for t in tenants], figures=figures,
                      place=municipality(values["tenant"]) if values["tenant"] else None)
