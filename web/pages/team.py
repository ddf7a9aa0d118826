"""The lead's team figures: consultations by month, topic and mode, open cases, goals by area and status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from web.client import ApiError
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_date
from web.i18n import N_
from web.labels import label
from web.pages.operator_charts import Chart, Item, horizontal
from web.render import format_date, gettext_for, page
from web.users import municipality

router = APIRouter()
CONSULTATIONS = "/api/cases/v1/statistics/consultations"
GOALS = "/api/plans/v1/statistics/goals"
CASELOADS = "/api/cases/v1/caseloads"
FIELDS = {"tenant": N_("Municipality"), "from": N_("From"), "to": N_("To")}


def month_text(value: str) -> str:
    """2026-03 as people write it: 03.2026."""
    year, _, month = value.partition("-")
    return f"{month}.{year}" if month else value


def figures_charts(request: Request, consultations: dict[str, Any], goals: dict[str, Any]) -> dict[str, Chart]:
    """The figures as bar charts; a withheld cell is drawn as an outlined stub and named in the description."""
    gettext = gettext_for(request).gettext
    withheld = gettext("withheld")
    note = gettext("Bar chart; the same figures are in the table that follows.")

    def chart(chart_id: str, title: str, rows: list[dict[str, Any]], key: str, name: Any,
              count: str = "consultations") -> Chart:
        items = [Item(name(r[key]), r[count], r["suppressed"]) for r in rows]
        hidden = [i.label for i in items if i.withheld or i.count is None]
        description = note + (" " + gettext("Withheld: %(cells)s.") % {"cells": ", ".join(hidden)} if hidden else "")
        return horizontal(chart_id, title, description, items, withheld)

    c, g = consultations, goals
    return {
        "by_month": chart("chart-month", gettext("Consultations by month"), c["by_month"], "month", month_text),
        "by_topic": chart("chart-topic", gettext("Consultations by topic"), c["by_topic"], "topic",
                          lambda t: gettext(label("topic", t))),
        "by_mode": chart("chart-mode", gettext("Consultations by mode"), c["by_mode"], "mode",
                         lambda m: gettext(label("mode", m))),
        "by_area": chart("chart-area", gettext("Goals by area"), g["by_area"], "area",
                         lambda a: gettext(label("topic", a)), count="count"),
        "by_status": chart("chart-status", gettext("Goals by status"), g["by_status"], "status",
                           lambda s: gettext(label("goal_status", s)), count="count"),
    }


@router.get("/team")
async def team(request: Request, web: Web, user: User) -> Response:
    """The figures of the lead's municipality (of the one chosen, when the lead has several)."""
    assert user.token is not None
    gettext = gettext_for(request).gettext
    values = {name: request.query_params.get(name, "").strip()[:20] for name in FIELDS}
    tenants = sorted(user.tenants, key=municipality)
    if not values["tenant"] and tenants:
        values["tenant"] = tenants[0]  # the API needs one; the first is shown, the others offered
    errors = FormErrors()
    if values["tenant"] not in tenants:
        errors.add("tenant", gettext("Choose a municipality from the list"))
    window: dict[str, str | None] = {}
    for name in ("from", "to"):
        day = parse_date(values[name]) if values[name] else None
        if values[name] and day is None:
            errors.add(name, gettext("Enter the date as a date, for example 01.01.2026"))
        window[name] = day.isoformat() if day else None
    consultations = goals = None
    if not errors:
        try:
            consultations = await web.api.fetch("GET", CONSULTATIONS, user.token, params={
                "tenant": values["tenant"], "from": window["from"], "to": window["to"]})
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, FIELDS, list(FIELDS))
        else:
            # One call after the other: see case_view (the in-process API's SQLite writer lock).
            goals = await web.api.fetch("GET", GOALS, user.token, params={"tenant": values["tenant"]})
    caseloads = await web.api.fetch("GET", CASELOADS, user.token, params={"tenant": values["tenant"]}) \
        if values["tenant"] in tenants else []
    for name in ("from", "to"):  # shown as typed when wrong, else as 31.12.2026
        if window[name]:
            values[name] = format_date(window[name])
    return await page(
        request, "lead/team.html", status_code=422 if errors else 200, errors=errors, values=values,
        tenants=[(t, municipality(t)) for t in tenants], place=municipality(values["tenant"]),
        consultations=consultations, goals=goals, caseloads=caseloads,
        charts=figures_charts(request, consultations, goals) if consultations and goals else None)
