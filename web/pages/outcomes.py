"""The state's outcome figures of casework per year: time to independence, periods that ran out, eligibility,
open cases with an agreed plan; and the plans' goals and referrals as they stand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from shared import clock
from web.client import ApiError
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_int
from web.i18n import N_
from web.labels import label
from web.render import gettext_for, language, page
from web.users import municipality

router = APIRouter()
NODES = "/api/federation/v1/nodes"
OUTCOMES = "/api/cases/v1/statistics/outcomes"
AGREEMENTS = "/api/plans/v1/statistics/agreements"
GOALS = "/api/plans/v1/statistics/goals"
REFERRALS = "/api/plans/v1/statistics/referrals"
FIELDS = {"year": N_("Year"), "tenant": N_("Municipality")}


def percent(value: float | None, lang: str) -> str | None:
    """A share with one decimal as the language writes it: 50,0 % in German, 50.0% in English."""
    if value is None:
        return None
    return f"{value:.1f}".replace(".", ",") + "\u00a0%" if lang == "de" else f"{value:.1f}%"


def rows(answer: dict[str, Any], key: str, group: str, statuses: list[str], totals: str,
         gettext: Any) -> list[dict[str, Any]]:
    """A statistics answer's cells as table rows: the row's label, its cells in the order of `statuses`, its total."""
    cells = {(c[key], c["status"]): c for c in answer["cells"]}
    return [{"label": gettext(label(group, r[key])), "cells": [cells[r[key], s] for s in statuses], "total": r}
            for r in answer[totals]]


def plan_tables(request: Request, goals: dict[str, Any], referrals: dict[str, Any]) -> dict[str, Any]:
    """Goals achieved and dropped by area, referrals by partner type and status: rows, then the totals row."""
    gettext = gettext_for(request).gettext
    ended = ["achieved", "dropped"]
    by_status = {s["status"]: s for s in goals["by_status"]}
    referral_statuses = [s["status"] for s in referrals["by_status"]]
    return {
        "goals": {"rows": rows(goals, "area", "topic", ended, "by_area", gettext),
                  "columns": [gettext(label("goal_status", s)) for s in ended],
                  "footer": [by_status[s] for s in ended], "total": goals["total"]},
        "referrals": {"rows": rows(referrals, "partner_type", "partner_type", referral_statuses, "by_partner_type",
                                   gettext),
                      "columns": [gettext(label("step_status", s)) for s in referral_statuses],
                      "footer": referrals["by_status"], "total": referrals["total"]},
    }


@router.get("/state/outcomes")
async def outcomes(request: Request, web: Web, user: User) -> Response:
    """One year's case outcomes, statewide or for one municipality; withheld figures say so."""
    assert user.token is not None
    gettext = gettext_for(request).gettext
    values = {name: request.query_params.get(name, "").strip()[:20] for name in FIELDS}
    values["year"] = values["year"] or str(clock.today().year - 1)  # the last full year
    nodes = await web.api.fetch("GET", NODES, user.token)
    tenants = sorted({t for n in nodes for t in n["tenants"]}, key=municipality)
    errors = FormErrors()
    year = parse_int(values["year"])
    if year is None:
        errors.add("year", gettext("Enter the year as four digits, for example 2025"))
    if values["tenant"] and values["tenant"] not in tenants:
        errors.add("tenant", gettext("Choose a municipality from the list"))
    figures = agreements = tables = None
    if not errors:
        query = {"year": year, "tenant": values["tenant"] or None}
        try:
            figures = await web.api.fetch("GET", OUTCOMES, user.token, params=query)
            agreements = await web.api.fetch("GET", AGREEMENTS, user.token, params=query)
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, FIELDS, list(FIELDS))
        else:
            agreements["share"] = percent(agreements["share_percent"], language(request))
            where = {"tenant": values["tenant"] or None}
            tables = plan_tables(request, await web.api.fetch("GET", GOALS, user.token, params=where),
                                 await web.api.fetch("GET", REFERRALS, user.token, params=where))
    return await page(request, "statewide/outcomes.html", status_code=422 if errors else 200, errors=errors,
                      values=values, tenants=[(t, municipality(t)) for t in tenants], figures=figures,
                      agreements=agreements, tables=tables,
                      place=municipality(values["tenant"]) if values["tenant"] else None)
