"""The node_admin's pages: the node's health at a glance, its streams and consumer groups, dead letters.

Every figure comes from the node operations API (`/api/node/v1`), which carries names, counts and
ids only, and from the cases service's retention runs (dates and counts): no page here reads a case or
plan, so no case content can reach a node_admin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import Missing
from web.deps import User, Web
from web.forms import text
from web.i18n import N_
from web.pages.operator_tables import Column, age_text, chosen, sort_headers, sorted_rows
from web.render import gettext_for, is_htmx, page, partial
from web.users import municipality

router = APIRouter()
OPS = "/api/node/v1"
RETENTION = "/api/cases/v1/erasure-runs"
PAGE_SIZE = 25
DEAD_LETTER_ID = re.compile(r"^\d{1,20}-\d{1,20}$")  # a stream entry id, as the API accepts it
GROUP_COLUMNS = [Column("stream", N_("Stream")), Column("consumers", N_("Consumers"), descending=True),
                 Column("pending", N_("Pending"), descending=True), Column("lag", N_("Lag"), descending=True)]


def _attention(status: dict[str, Any]) -> dict[str, bool]:
    """Which parts of the node need a look: the glance's verdict per card."""
    groups = [g for s in status["streams"] for g in s["groups"]]
    fed = status["federation"]
    link_down = fed["level"] == "municipal" and fed["configured"] and fed["link_up"] is False
    return {
        "dead_letters": status["dead_letters"] > 0,
        "groups": any(g["pending"] or g["lag"] for g in groups),
        "outbox": status["outbox_backlog"] > 0 or any(s["outbox_backlog"] is None for s in status["services"]),
        "federation": link_down or bool(fed.get("silent_nodes")) or bool(fed.get("relay_lag")),
    }


def _heartbeat_age(sent_at: str | None) -> float | None:
    if not sent_at:
        return None
    moment = datetime.fromisoformat(sent_at)
    return (datetime.now(UTC) - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds()


@router.get("/node")
async def node_health(request: Request, web: Web, user: User) -> Response:
    """The node at a glance: dead letters, consumer groups, outbox, federation link, versions."""
    assert user.token is not None
    status = await web.api.fetch("GET", f"{OPS}/status", user.token)
    try:  # a municipal node's retention runs; a state node (or one without the cases service) has none
        retention = await web.api.fetch("GET", RETENTION, user.token, params={"limit": 1})
    except Missing:
        retention = None
    groups = [g for s in status["streams"] for g in s["groups"]]
    sent_age = _heartbeat_age(status["federation"].get("last_heartbeat_sent_at"))
    return await page(
        request, "operations/node.html", status=status, attention=_attention(status),
        group_count=len(groups), pending=sum(g["pending"] for g in groups),
        lag=sum(g["lag"] or 0 for g in groups), lag_unknown=any(g["lag"] is None for g in groups),
        places=[municipality(t) for t in status["tenants"]],
        sent_age=age_text(sent_age, gettext_for(request)) if sent_age is not None else None,
        checked_at=datetime.now(UTC), retention=retention)


@router.get("/node/streams")
async def node_streams(request: Request, web: Web, user: User, sort: str = "stream") -> Response:
    """Drill-down: every stream with its consumer groups, their consumers, pending entries and lag."""
    assert user.token is not None
    status = await web.api.fetch("GET", f"{OPS}/status", user.token)
    rows = [{"stream": s["name"], "length": s["length"], "group": g["name"], "consumers": g["consumers"],
             "pending": g["pending"], "lag": g["lag"], "last_delivered_id": g["last_delivered_id"]}
            for s in status["streams"] for g in s["groups"]]
    column = chosen(GROUP_COLUMNS, sort)
    rows = sorted_rows(rows, column, then=("stream", "group"))
    without = [s for s in status["streams"] if not s["groups"]]
    headers = sort_headers("/node/streams", {}, column, GROUP_COLUMNS, gettext_for(request).gettext)
    return await page(request, "operations/streams.html", status=status, rows=rows, without=without,
                      headers=headers, checked_at=datetime.now(UTC))


@router.get("/node/dead-letters")
async def dead_letters(request: Request, web: Web, user: User, cursor: str = "") -> Response:
    """The dead letters, oldest first, a page at a time, each with a replay button."""
    assert user.token is not None
    cursor = cursor if DEAD_LETTER_ID.match(cursor) else ""
    answer = await web.api.fetch("GET", f"{OPS}/dead-letters", user.token,
                                 params={"limit": PAGE_SIZE, "cursor": cursor})
    next_url = f"/node/dead-letters?{urlencode({'cursor': answer['next_cursor']})}" if answer["next_cursor"] \
        else None
    return await page(request, "operations/dead_letters.html", letters=answer["items"], total=answer["total"],
                      cursor=cursor, next_url=next_url)


@router.post("/node/dead-letters/{dead_letter_id}/replay")
async def replay(request: Request, dead_letter_id: str, web: Web, user: User) -> Response:
    """Put a dead letter back on its stream; HTMX swaps its row, without JavaScript the list reloads."""
    if not DEAD_LETTER_ID.match(dead_letter_id):
        raise Missing(404, "not found")
    assert user.token is not None
    cursor = text(await request.form(), "cursor")
    back = "/node/dead-letters" + (f"?{urlencode({'cursor': cursor})}" if DEAD_LETTER_ID.match(cursor) else "")
    try:
        answer = await web.api.fetch("POST", f"{OPS}/dead-letters/{dead_letter_id}/replay", user.token)
    except Missing:
        said = N_("This dead letter is no longer there: it was replayed or removed already.")
        if is_htmx(request):
            return partial(request, "operations/partials/dead_letter_done.html", id=dead_letter_id,
                           replayed_as=None, said=gettext_for(request).gettext(said))
        user.say(said)
        return RedirectResponse(back, status_code=303)
    said = N_("The dead letter has been replayed: its event is back on its stream.")
    if is_htmx(request):
        return partial(request, "operations/partials/dead_letter_done.html", id=dead_letter_id,
                       replayed_as=answer["replayed_as"], said=gettext_for(request).gettext(said))
    user.say(said)
    return RedirectResponse(back, status_code=303)
