"""The plan as an agreement: recording the client's agreement and reviews, the versions, the printed plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from shared import clock
from web.client import checked
from web.deps import User, Web
from web.forms import FormErrors, parse_date, parse_int, text
from web.i18n import N_
from web.labels import MODES, PLAN_LANGUAGES, TOPICS, options
from web.pages.case_view import CASES, PLANS, ident
from web.pages.plans import send
from web.render import format_date, gettext_for, page

router = APIRouter()
FIELDS = ["agreed_on", "language", "signed_on_paper", "review_on", "reviewed_on", "area", "duration_minutes",
          "mode", "next_review_on"]
LABELS = {"agreed_on": N_("Agreed on"), "language": N_("Explained in"), "signed_on_paper": N_("Signed on paper"),
          "review_on": N_("Next review"), "reviewed_on": N_("Reviewed on"), "area": N_("Area reviewed"),
          "duration_minutes": N_("Duration in minutes"), "mode": N_("How"),
          "next_review_on": N_("Next review"), "held_on": N_("Reviewed on"), "topics": N_("Area reviewed")}


async def _plan(web: Web, user: User, plan_id: str) -> dict[str, Any]:
    assert user.token is not None
    return await web.api.fetch("GET", f"{PLANS}/{ident(plan_id)}", user.token)  # type: ignore[no-any-return]


def _date(values: dict[str, str], errors: FormErrors, name: str, gettext: Any, required: bool) -> date | None:
    """A typed date, or an error at its field (a missing optional one is None)."""
    if not values[name]:
        if required:
            errors.add(name, gettext("Enter the date, for example 30.06.2027"))
        return None
    day = parse_date(values[name])
    if day is None:
        errors.add(name, gettext("Enter the date as a date, for example 30.06.2027"))
    return day


async def _page(request: Request, web: Web, user: User, plan_id: str, *, errors: FormErrors | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    plan = await _plan(web, user, plan_id)
    gettext = gettext_for(request).gettext
    today = format_date(clock.today())
    return await page(request, "plan/agreement.html", status_code=status_code, plan=plan,
                      errors=errors or FormErrors(),
                      values=values or {"agreed_on": today, "reviewed_on": today, "signed_on_paper": "yes"},
                      languages=options("plan_language", gettext), topics=options("topic", gettext),
                      modes=options("mode", gettext),
                      yes_no=[("yes", gettext("Yes")), ("no", gettext("No"))])


@router.get("/plans/{plan_id}/agreement")
async def agreement_page(request: Request, plan_id: str, web: Web, user: User) -> Response:
    """Record the client's agreement to the current version, or a review of an agreed plan."""
    return await _page(request, web, user, plan_id)


async def _send(web: Web, user: User, errors: FormErrors, gettext: Any, method: str, path: str,
                body: dict[str, Any]) -> None:
    await send(web, user, errors, gettext, method, path, body, LABELS, FIELDS)


@router.post("/plans/{plan_id}/agreements")
async def agree(request: Request, plan_id: str, web: Web, user: User) -> Response:
    """The client agreed to the current version; later changes start a new draft."""
    form = await request.form()
    values = {name: text(form, name) for name in ("agreed_on", "language", "signed_on_paper", "review_on")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    agreed_on = _date(values, errors, "agreed_on", gettext, required=True)
    if values["language"] not in PLAN_LANGUAGES:
        errors.add("language", gettext("Choose the language the plan was explained in"))
    if values["signed_on_paper"] not in ("yes", "no"):
        errors.add("signed_on_paper", gettext("Say whether the client signed the plan on paper"))
    review_on = _date(values, errors, "review_on", gettext, required=False)
    if not errors and agreed_on is not None:
        await _send(web, user, errors, gettext, "POST", f"{PLANS}/{ident(plan_id)}/agreements", {
            "agreed_on": agreed_on.isoformat(), "language": values["language"],
            "signed_on_paper": values["signed_on_paper"] == "yes",
            "review_on": review_on.isoformat() if review_on else None})
    if errors:
        return await _page(request, web, user, plan_id, errors=errors, values=values, status_code=422)
    user.say(N_("The agreement has been recorded."))
    return RedirectResponse(f"/plans/{plan_id}/versions", status_code=303)


@router.post("/plans/{plan_id}/reviews")
async def review(request: Request, plan_id: str, web: Web, user: User) -> Response:
    """A review with the client: recorded as a consultation on the area reviewed, then the next review date."""
    assert user.token is not None
    form = await request.form()
    values = {name: text(form, name) for name in ("reviewed_on", "area", "duration_minutes", "mode",
                                                  "next_review_on")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    reviewed_on = _date(values, errors, "reviewed_on", gettext, required=True)
    if values["area"] not in TOPICS:
        errors.add("area", gettext("Choose the area reviewed"))
    minutes = parse_int(values["duration_minutes"])
    if minutes is None:
        errors.add("duration_minutes", gettext("Enter the duration in whole minutes, for example 45"))
    if values["mode"] not in MODES:
        errors.add("mode", gettext("Choose how the review was held"))
    next_on = _date(values, errors, "next_review_on", gettext, required=False)
    plan = await _plan(web, user, plan_id)
    if not errors and reviewed_on is not None:
        # The review is a consultation of the case (the cases service), then the plan's next date (plans).
        await _send(web, user, errors, gettext, "POST", f"{CASES}/{plan['case_id']}/consultations", {
            "held_on": reviewed_on.isoformat(), "duration_minutes": minutes, "mode": values["mode"],
            "topics": [values["area"]]})
        if not errors:
            await _send(web, user, errors, gettext, "POST", f"{PLANS}/{plan['id']}/reviews", {
                "reviewed_on": reviewed_on.isoformat(), "next_review_on": next_on.isoformat() if next_on else None})
    if errors:
        return await _page(request, web, user, plan_id, errors=errors, values=values, status_code=422)
    user.say(N_("The review has been recorded as a consultation."))
    return RedirectResponse(f"/cases/{plan['case_id']}#plan", status_code=303)


@router.get("/plans/{plan_id}/versions")
async def versions(request: Request, plan_id: str, web: Web, user: User) -> Response:
    """The plan's history: each agreed version with how it was agreed, then the draft."""
    assert user.token is not None
    plan = await _plan(web, user, plan_id)
    history = await web.api.fetch("GET", f"{PLANS}/{plan['id']}/versions", user.token)
    return await page(request, "plan/versions.html", plan=plan, history=list(reversed(history)))


@router.get("/plans/{plan_id}/versions/{number}")
async def version(request: Request, plan_id: str, number: int, web: Web, user: User) -> Response:
    """One version with its goals and steps as they were agreed (or stand, for the draft)."""
    assert user.token is not None
    plan = await _plan(web, user, plan_id)
    shown = await web.api.fetch("GET", f"{PLANS}/{plan['id']}/versions/{max(1, min(number, 1_000_000))}",
                                user.token)
    return await page(request, "plan/version.html", plan=plan, version=shown)


@router.get("/plans/{plan_id}/print")
async def print_plan(plan_id: str, web: Web, user: User, lang: str = "de") -> Response:
    """The printed plan (PDF) in German and the client's language, from the plans service."""
    assert user.token is not None
    lang = lang if lang in PLAN_LANGUAGES else "de"
    answer = await web.api.call("GET", f"{PLANS}/{ident(plan_id)}/document.pdf", user.token, params={"lang": lang})
    if answer.status_code != 200:
        checked(answer)  # raises the matching refusal
    return Response(answer.content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="integrationsplan-{ident(plan_id)}-{lang}.pdf"'})
