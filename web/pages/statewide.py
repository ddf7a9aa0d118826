"""The state operator's pages: every node at a glance (refreshing itself), statewide figures, the register."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError, Forbidden, Missing, SignedOut
from web.deps import User, Web, WebState
from web.forms import FormErrors, add_api_errors, parse_date
from web.i18n import N_
from web.labels import label
from web.pages.operator_charts import Item, horizontal
from web.pages.operator_tables import Column, age_text, chosen, decimal, sort_headers, sorted_rows
from web.render import LOCAL_TIME, gettext_for, is_htmx, language, page, partial
from web.session import WebSession
from web.users import municipality

router = APIRouter()
NODES = "/api/federation/v1/nodes"
CONSULTATIONS = "/api/cases/v1/statistics/consultations"
GOALS = "/api/plans/v1/statistics/goals"
POSITIONS = "/api/funding/v1/positions"
REFRESH_S = 10  # the node overview asks for itself again this often
PAGE_SIZE = 25
SILENT_NAMED = 5  # the summary names this many silent nodes, then counts the rest
NODE_COLUMNS = [Column("silent", N_("Status"), descending=True), Column("node_id", N_("Node")),
                Column("last_seen_age_s", N_("Last heartbeat"), descending=True), Column("version", N_("Version")),
                Column("relay_lag", N_("Relay lag"), descending=True),
                Column("outbox_backlog", N_("Outbox backlog"), descending=True),
                Column("dead_letters", N_("Dead letters"), descending=True)]
POSITION_COLUMNS = [Column("place", N_("Municipality")), Column("ends_on", N_("Term ends")),
                    Column("fte", N_("FTE"), descending=True), Column("status", N_("Status"))]
STATS_LABELS = {"tenant": N_("Municipality"), "from": N_("From"), "to": N_("To")}


def _now() -> str:
    return datetime.now(UTC).astimezone(LOCAL_TIME).strftime("%H:%M:%S")


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


async def _nodes_view(request: Request, web: WebState, user: WebSession, sort: str) -> dict[str, Any]:
    """The registry's nodes as rows, sorted, with the summary line and its fingerprint."""
    nodes = await web.api.fetch("GET", NODES, _token(user))
    translations = gettext_for(request)
    for n in nodes:
        n["places"] = ", ".join(municipality(t) for t in n["tenants"])
        n["age"] = age_text(n["last_seen_age_s"], translations)
    column = chosen(NODE_COLUMNS, sort)
    rows = sorted_rows(nodes, column, then=("node_id",))
    silent = [n["node_id"] for n in sorted(nodes, key=lambda n: n["node_id"]) if n["silent"]]
    g = translations
    if not nodes:
        summary = g.gettext("No node is registered yet.")
    elif not silent:
        summary = g.ngettext("%(num)d node, all reporting.", "%(num)d nodes, all reporting.", len(nodes)) % {
            "num": len(nodes)}
    else:
        named = ", ".join(silent[:SILENT_NAMED]) + (" …" if len(silent) > SILENT_NAMED else "")
        summary = g.ngettext("%(num)d node", "%(num)d nodes", len(nodes)) % {"num": len(nodes)} + ", " + \
            g.ngettext("%(num)d silent: %(names)s.", "%(num)d silent: %(names)s.", len(silent)) % {
                "num": len(silent), "names": named}
    seen = hashlib.sha256(summary.encode()).hexdigest()[:12]
    return {"nodes": rows, "summary": summary, "seen": seen, "sort": column.key, "refresh_s": REFRESH_S,
            "headers": sort_headers("/state/nodes", {}, column, NODE_COLUMNS, g.gettext),
            "updated": _now(),
            "silent_count": len(silent)}


@router.get("/state/nodes")
async def nodes_page(request: Request, web: Web, user: User, sort: str = "") -> Response:
    """Every node of the state at a glance; silent ones first and marked."""
    return await page(request, "statewide/nodes.html", **await _nodes_view(request, web, user, sort))


@router.get("/state/nodes/live")
async def nodes_live(request: Request, web: Web, user: User, sort: str = "", seen: str = "") -> Response:
    """The overview's table for HTMX's polling; the summary line only when it changed (it is announced)."""
    if not is_htmx(request):
        return RedirectResponse("/state/nodes" + (f"?sort={sort}" if sort else ""), status_code=303)
    try:
        view = await _nodes_view(request, web, user, sort)
    except (SignedOut, Forbidden, Missing):
        raise
    except ApiError:
        # The table stays as it was and the polling goes on; the line above it says since when.
        response = partial(request, "statewide/partials/nodes_stale.html", time=_now(), refresh_s=REFRESH_S)
        response.headers["HX-Reswap"] = "none"
        return response
    return partial(request, "statewide/partials/nodes.html", changed=view["seen"] != seen, **view)


def _items(rows: list[dict[str, Any]], key: str, labelled: Any, count: str = "consultations") -> list[Item]:
    return [Item(labelled(r[key]), r[count], r["suppressed"]) for r in rows]


def _month(value: str) -> str:
    year, month = value.split("-")
    return f"{month}.{year}"


def _charts(request: Request, consultations: dict[str, Any], goals: dict[str, Any]) -> dict[str, Any]:
    """The figures as bar charts; withheld cells drawn as stubs, named in the description."""
    gettext = gettext_for(request).gettext
    withheld = gettext("withheld")
    note = gettext("Bar chart; the same figures are in the table that follows.")

    def chart(chart_id: str, title: str, items: list[Item]) -> Any:
        hidden = [i.label for i in items if i.withheld or i.count is None]
        description = note + (" " + gettext("Withheld: %(cells)s.") % {"cells": ", ".join(hidden)} if hidden else "")
        return horizontal(chart_id, title, description, items, withheld)

    c = consultations
    return {
        "by_month": chart("chart-month", gettext("Consultations by month"), _items(c["by_month"], "month", _month)),
        "by_topic": chart("chart-topic", gettext("Consultations by topic"),
                          _items(c["by_topic"], "topic", lambda t: gettext(label("topic", t)))),
        "by_mode": chart("chart-mode", gettext("Consultations by mode"),
                         _items(c["by_mode"], "mode", lambda m: gettext(label("mode", m)))),
        "open_cases": chart("chart-open", gettext("Open cases per municipality"),
                            _items(c["open_cases"], "tenant", municipality, count="open_cases")),
        "by_area": chart("chart-area", gettext("Goals by area"),
                         _items(goals["by_area"], "area", lambda a: gettext(label("topic", a)), count="count")),
        "by_status": chart("chart-status", gettext("Goals by status"),
                           _items(goals["by_status"], "status", lambda s: gettext(label("goal_status", s)),
                                  count="count")),
    }


@router.get("/state/statistics")
async def statistics(request: Request, web: Web, user: User) -> Response:
    """Statewide (or one municipality's) consultations, open cases and goals, small cells withheld."""
    values = {name: request.query_params.get(name, "").strip()[:20] for name in STATS_LABELS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    nodes = await web.api.fetch("GET", NODES, _token(user))
    tenants = sorted({t for n in nodes for t in n["tenants"]}, key=municipality)
    if values["tenant"] and values["tenant"] not in tenants:
        errors.add("tenant", gettext("Choose a municipality from the list"))
    window = {}
    for name in ("from", "to"):
        day = parse_date(values[name]) if values[name] else None
        if values[name] and day is None:
            errors.add(name, gettext("Enter the date as a date, for example 01.01.2026"))
        window[name] = day.isoformat() if day else None
    if window["from"] and window["to"] and window["to"] < window["from"]:
        errors.add("to", gettext("The end date must not be before the start date"))
    consultations = goals = None
    if not errors:
        try:
            consultations = await web.api.fetch("GET", CONSULTATIONS, _token(user), params={
                "tenant": values["tenant"], "from": window["from"], "to": window["to"]})
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, STATS_LABELS, list(STATS_LABELS))
        else:
            goals = await web.api.fetch("GET", GOALS, _token(user), params={"tenant": values["tenant"]})
    return await page(
        request, "statewide/statistics.html", status_code=422 if errors else 200, errors=errors, values=values,
        tenants=[(t, municipality(t)) for t in tenants], consultations=consultations, goals=goals,
        charts=_charts(request, consultations, goals) if consultations is not None and goals is not None else None,
        place=municipality(values["tenant"]) if values["tenant"] else None)


@router.get("/state/positions")
async def positions(request: Request, web: Web, user: User, tenant: str = "", sort: str = "",
                    page_no: str = Query("", alias="page")) -> Response:
    """The statewide position register: FTE per municipality, then every position, sorted and paged."""
    nodes = await web.api.fetch("GET", NODES, _token(user))
    tenants = sorted({t for n in nodes for t in n["tenants"]}, key=municipality)
    tenant = tenant if tenant in tenants else ""
    register = await web.api.fetch("GET", POSITIONS, _token(user), params={"tenant": tenant})
    lang = language(request)
    items = register["items"]
    for p in items:
        p["place"] = municipality(p["tenant"])
        p["fte_text"] = decimal(p["fte"], lang)
    for t in register["totals"]:
        t["place"] = municipality(t["tenant"])
        for name in ("total_fte", "approved_fte", "occupied_fte", "vacant_fte"):
            t[name + "_text"] = decimal(t[name], lang)
    column = chosen(POSITION_COLUMNS, sort)
    rows = sorted_rows(items, column, then=("place", "position_id"))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    current = min(int(page_no) if page_no.isdigit() and len(page_no) < 6 else 0, pages - 1)
    query = {"tenant": tenant, "sort": column.key}
    return await page(
        request, "statewide/positions.html", totals=register["totals"], total=len(rows),
        positions=rows[current * PAGE_SIZE:(current + 1) * PAGE_SIZE], page_no=current, pages=pages,
        query=query, tenant=tenant, tenants=[(t, municipality(t)) for t in tenants],
        headers=sort_headers("/state/positions", {"tenant": tenant}, column, POSITION_COLUMNS,
                             gettext_for(request).gettext))
