"""The funding officer's pages (state node): the queue of extension applications, deciding one, decided ones."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError, Missing
from web.deps import User, Web, WebState
from web.forms import FormErrors, add_api_errors, parse_int, text
from web.i18n import N_
from web.pages.funding_common import money
from web.pages.operator_tables import decimal
from web.render import gettext_for, language, page
from web.session import WebSession
from web.users import municipality

router = APIRouter()
APPLICATIONS = "/api/funding/v1/extension-applications"
# Application ids come from the municipal nodes: the state stores up to 100 characters.
APPLICATION_ID = re.compile(r"[0-9A-Za-z_-]{1,100}")
PAGE_SIZE = 25
EXCERPT = 240  # the queue shows the justification's beginning; the decision page shows all of it
FIELDS = ["approved", "months", "reason"]
LABELS = {"approved": N_("Decision"), "reason": N_("Reason"), "months": N_("Months approved")}
# The API's own reasons, so they reach the catalogue.
API_REASONS = (N_("required for a rejection"), N_("required for an approval of fewer months than asked"),
               N_("only for an approval"))
ASKED = {"extension_24_months": 24, "interruption_12_months": 12}


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


def application_id(value: str) -> str:
    """An application id from the page's path; anything else is as missing as an unknown one."""
    if not APPLICATION_ID.fullmatch(value):
        raise Missing(404, "not found")
    return value


def asked(application: dict[str, Any]) -> int:
    """The months applied for: fixed by an extension's kind, chosen for a new position (its term)."""
    if application["kind"] in ASKED:
        return ASKED[application["kind"]]
    start = date.fromisoformat(application["current_ends_on"])
    end = date.fromisoformat(application["requested_ends_on"])
    return (end.year - start.year) * 12 + end.month - start.month


def _shown(application: dict[str, Any]) -> dict[str, Any]:
    """The application with its municipality's name, its excerpt, the months asked and its page's address."""
    justification = application.get("justification") or ""
    excerpt = justification if len(justification) <= EXCERPT else justification[:EXCERPT].rstrip() + " …"
    return {**application, "place": municipality(application["tenant"]), "excerpt": excerpt,
            "asked": asked(application), "url": f"/applications/{quote(application['id'], safe='')}"}


def _paged(rows: list[dict[str, Any]], page_no: str) -> tuple[list[dict[str, Any]], int, int]:
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    current = min(int(page_no) if page_no.isdigit() and len(page_no) < 6 else 0, pages - 1)
    return rows[current * PAGE_SIZE:(current + 1) * PAGE_SIZE], current, pages


@router.get("/applications")
async def queue(request: Request, web: Web, user: User, page_no: str = Query("", alias="page")) -> Response:
    """The applications waiting for a decision, oldest first (first come, first decided)."""
    found = await web.api.fetch("GET", APPLICATIONS, _token(user), params={"status": "submitted"})
    rows, current, pages = _paged([_shown(a) for a in found], page_no)
    return await page(request, "funding/queue.html", applications=rows, total=len(found), page_no=current,
                      pages=pages)


@router.get("/applications/decided")
async def decided(request: Request, web: Web, user: User, page_no: str = Query("", alias="page")) -> Response:
    """The decided applications, latest decision first."""
    found = [a for a in await web.api.fetch("GET", APPLICATIONS, _token(user)) if a["status"] != "submitted"]
    found.sort(key=lambda a: (a["decided_on"] or "", a["id"]), reverse=True)
    rows, current, pages = _paged([_shown(a) for a in found], page_no)
    return await page(request, "funding/decided.html", applications=rows, total=len(found), page_no=current,
                      pages=pages)


async def _decision_page(request: Request, web: WebState, user: WebSession, app_id: str, values: dict[str, str],
                         errors: FormErrors, status_code: int = 200) -> Response:
    found = await web.api.fetch("GET", f"{APPLICATIONS}/{application_id(app_id)}", _token(user))
    impact = []
    if found["status"] == "submitted":
        lang = language(request)
        impact = [{**i, **{f"{k}_text": money(i[k], lang) for k in (
            "extra_eur", "district_committed_eur", "district_allocation_eur", "committed_eur", "budget_eur")}}
            for i in await web.api.fetch("GET", f"{APPLICATIONS}/{app_id}/impact", _token(user))]
    position = None
    if found["kind"] == "new_position":  # the officer decides on its FTE and qualification too
        position = await web.api.fetch("GET", f"/api/funding/v1/positions/{quote(found['position_id'], safe='')}"
                                       "/grants", _token(user))
        position["fte_text"] = decimal(position["fte"], language(request))
    shown = _shown(found)
    return await page(request, "funding/application.html", status_code=status_code, application=shown,
                      values=values, errors=errors, impact=impact, asked=shown["asked"], position=position)


@router.get("/applications/{app_id}")
async def application_page(request: Request, app_id: str, web: Web, user: User) -> Response:
    """One application with the municipality's justification; the decision form while it waits."""
    return await _decision_page(request, web, user, app_id, {}, FormErrors())


@router.post("/applications/{app_id}/decision")
async def decide(request: Request, app_id: str, web: Web, user: User) -> Response:
    """Approve, or reject with a reason; the decision goes down to the applying node."""
    most = asked(await web.api.fetch("GET", f"{APPLICATIONS}/{application_id(app_id)}", _token(user)))
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    months = parse_int(values["months"]) if values["months"] else None
    if values["approved"] not in ("yes", "no"):
        errors.add("approved", gettext("Choose whether to approve or reject the application"))
    elif values["approved"] == "no" and not values["reason"]:
        errors.add("reason", gettext("Enter the reason for the rejection: the municipality reads it"))
    if values["months"] and (months is None or not 1 <= months <= most):
        errors.add("months", gettext("Enter the months approved as a whole number from 1 to %(num)d") % {
            "num": most})
    if not errors:
        approved = values["approved"] == "yes"
        body: dict[str, Any] = {"approved": approved, "reason": values["reason"] or None}
        if approved and months is not None:
            body["months"] = months
        try:
            await web.api.fetch("POST", f"{APPLICATIONS}/{app_id}/decision", _token(user), json=body)
        except ApiError as exc:
            if exc.status == 409:
                errors.add("", gettext("The application has already been decided or withdrawn."))
            elif exc.status == 422:
                add_api_errors(errors, exc, gettext, LABELS, FIELDS)
            else:
                raise
        else:
            user.say(N_("The application has been approved. The municipality is told.") if approved
                     else N_("The application has been rejected. The municipality is told."))
            return RedirectResponse("/applications", status_code=303)
    return await _decision_page(request, web, user, app_id, values, errors, status_code=422)
