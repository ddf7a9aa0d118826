"""Pages from templates: one Jinja environment per language, dates as 31.12.2026 in every language."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web.client import ApiError
from web.i18n import LANGUAGES, negotiate, translations
from web.labels import label
from web.session import session_of

TEMPLATES = Path(__file__).parent / "templates"
try:
    LOCAL_TIME: Any = ZoneInfo("Europe/Berlin")
except ZoneInfoNotFoundError:  # a system without tzdata: UTC, still correct, only less familiar
    LOCAL_TIME = UTC


def as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TIME).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return as_date(datetime.fromisoformat(value)) if "T" in value else date.fromisoformat(value)
    return None


def format_date(value: Any) -> str:
    """31.12.2026, in German and in English alike."""
    day = as_date(value)
    return f"{day.day:02d}.{day.month:02d}.{day.year}" if day else ""


def format_datetime(value: Any) -> str:
    """31.12.2026, 14:05 in the programme's time zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the API's times are UTC
    local = moment.astimezone(LOCAL_TIME)
    return f"{format_date(local)}, {local:%H:%M}"


@cache
def environment(lang: str) -> Environment:
    """The templates with this language's catalogue installed (one environment per language)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)  # templates ship with the package: no stat per page
    catalogue = translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.globals["label"] = lambda group, code: catalogue.gettext(label(group, code))
    env.globals["lang"] = lang
    return env


def language(request: Request) -> str:
    """The language chosen with the switch, else the browser's preference, else German."""
    chosen = request.scope.get("lotse.lang")
    return chosen if chosen in LANGUAGES else negotiate(request.headers.get("accept-language"))


def gettext_for(request: Request) -> gettext.NullTranslations:
    return translations(language(request))


def is_htmx(request: Request) -> bool:
    """An HTMX request (it swaps part of the page) that is not a history restore (it wants the page)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"


async def unread_count(request: Request, *, fresh: bool = False) -> int | None:
    """The header's unread counter (asked anew when `fresh`, else at most every UNREAD_TTL_S);
    None when the inbox cannot be read (no notifications service)."""
    session = session_of(request)
    if session.token is None:
        return None
    web = request.app.state.web
    known = None if fresh else web.unread.get(session.token)
    if known is not None:
        return int(known)
    try:
        answer = await web.api.fetch("GET", "/api/notifications/v1/inbox/unread", session.token)
    except ApiError:
        return None
    web.unread.put(session.token, int(answer["unread"]))
    return int(answer["unread"])


async def page(request: Request, template: str, *, status_code: int = 200, fresh_count: bool = False,
               **values: Any) -> HTMLResponse:
    """A whole page in the request's language, with the header's user, counter and one-time message."""
    session = session_of(request)
    lang = language(request)
    flash = session.take_flash()
    context = {"session": session, "csrf": session.csrf_token(), "request_path": _here(request),
               "flash": translations(lang).gettext(flash) if flash else None,
               "unread": await unread_count(request, fresh=fresh_count), **values}
    html = environment(lang).get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request, Accept-Language, Cookie"})


def partial(request: Request, template: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A fragment HTMX swaps into the page."""
    session = session_of(request)
    context = {"session": session, "csrf": session.csrf_token(), **values}
    html = environment(language(request)).get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request"})


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
