"""The annual figures (Kennzahlen): the lead reviews and submits them; the state sees who did, and the totals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from shared import clock
from web.client import ApiError, Missing
from web.deps import User, Web, WebState
from web.forms import parse_int
from web.i18n import N_
from web.render import page
from web.session import WebSession
from web.users import municipality

router = APIRouter()
FIGURES = "/api/funding/v1/key-figures"
CONSULTATIONS = "/api/cases/v1/statistics/consultations"
GOALS = "/api/plans/v1/statistics/goals"
AGREED = "/api/plans/v1/statistics/agreements"  # plans agreed in the year


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


def _year(value: str) -> int:
    """The year asked for (the past year by default); anything else is as missing as an unknown page."""
    if not value:
        return clock.today().year - 1
    year = parse_int(value)
    if year is None or not 2000 <= year <= 2099:
        raise Missing(404, "not found")
    return year


async def composed(web: WebState, user: WebSession, tenant: str, year: int) -> dict[str, Any]:
    """The year's figures from the statistics APIs, withheld as they publish them: what is submitted."""
    stats = await web.api.fetch("GET", CONSULTATIONS, _token(user), params={
        "tenant": tenant, "from": f"{year}-01-01", "to": f"{year}-12-31"})
    goals = await web.api.fetch("GET", GOALS, _token(user), params={"tenant": tenant})
    agreed = await web.api.fetch("GET", AGREED, _token(user), params={"tenant": tenant, "year": year})
    by_area: dict[str, dict[str, int | None]] = {}
    for cell in goals["cells"]:
        by_area.setdefault(cell["area"], {})[cell["status"]] = cell["count"]
    return {"consultations": stats["consultations"], "minutes": stats["minutes"],
            "clients": stats["distinct_clients"],
            "by_topic": {r["topic"]: r["consultations"] for r in stats["by_topic"]},
            "by_mode": {r["mode"]: r["consultations"] for r in stats["by_mode"]}, "goals": by_area,
            "household_members": stats.get("household_members"), "plans_agreed": agreed["plans_agreed"]}


@router.get("/key-figures")
async def figures_page(request: Request, web: Web, user: User, year: str = "") -> Response:
    """The municipality's figures of a year, as they would be (or were) submitted to the state."""
    chosen = _year(year)
    tenant = sorted(user.tenants)[0]
    mine = await web.api.fetch("GET", f"{FIGURES}/{chosen}", _token(user), params={"tenant": tenant})
    figures = mine["figures"] or {**await composed(web, user, tenant, chosen), "positions": mine["positions"],
                                  "fte": mine["fte"]}
    return await page(request, "funding/key_figures.html", mine=mine, figures=figures, place=municipality(tenant),
                      this_year=clock.today().year)


@router.post("/key-figures/{year}/submit")
async def submit(year: str, web: Web, user: User) -> Response:
    """Submit the year's figures as the statistics APIs publish them now (composed again, not from the form)."""
    chosen = _year(year)
    tenant = sorted(user.tenants)[0]
    body = {"tenant": tenant, **await composed(web, user, tenant, chosen)}
    try:
        await web.api.fetch("POST", f"{FIGURES}/{chosen}/submit", _token(user), json=body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        user.say(N_("The figures could not be submitted: they were submitted already, or the year has not ended."))
    else:
        user.say(N_("The figures have been submitted to the state."))
    return RedirectResponse(f"/key-figures?year={chosen}", status_code=303)


@router.get("/state/key-figures")
async def statewide(request: Request, web: Web, user: User, year: str = "") -> Response:
    """Which municipalities submitted the year's figures, which are late after 31 January, the totals."""
    chosen = _year(year)
    found = await web.api.fetch("GET", FIGURES, _token(user), params={"year": chosen})
    rows = [{**m, "place": municipality(m["tenant"])} for m in found["municipalities"]]
    return await page(request, "funding/key_figures_state.html", overview=found, municipalities=rows,
                      this_year=clock.today().year)
