"""A goal's steps: who does what by when, referrals to partner services and their status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import Missing
from web.deps import User, Web
from web.forms import FormErrors, parse_date, text
from web.i18n import N_
from web.labels import PARTNER_TYPES, STEP_ACTORS, STEP_STATUS, options
from web.pages.case_view import PLANS, ident
from web.pages.plans import send
from web.render import gettext_for, page

router = APIRouter()
STEP_FIELDS = ["what", "who", "partner_type", "due_on", "status"]
STEP_LABELS = {"what": N_("What"), "who": N_("Who"), "partner_type": N_("Partner service"),
               "due_on": N_("By when"), "status": N_("Status")}
# The statuses a step may take, by who takes it (the API refuses the others).
STATUSES = {"client": ("open", "done"), "manager": ("open", "done"),
            "partner": ("referred", "accepted", "done", "declined")}


async def goal_of(web: Web, user: User, plan_id: str, goal_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan and its goal; a goal of another plan is as missing as an unknown one."""
    assert user.token is not None
    plan = await web.api.fetch("GET", f"{PLANS}/{ident(plan_id)}", user.token)
    goal = next((g for g in plan["goals"] if g["id"] == ident(goal_id)), None)
    if goal is None:
        raise Missing(404, "not found")
    return plan, goal


async def _page(request: Request, web: Web, user: User, plan_id: str, goal_id: str, *,
                errors: FormErrors | None = None, values: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    plan, goal = await goal_of(web, user, plan_id, goal_id)
    gettext = gettext_for(request).gettext
    statuses = {who: [(s, gettext(STEP_STATUS[s])) for s in codes] for who, codes in STATUSES.items()}
    return await page(request, "plan/steps.html", status_code=status_code, plan=plan, goal=goal,
                      errors=errors or FormErrors(), values=values or {"who": "client"},
                      actors=options("step_actor", gettext), partners=options("partner_type", gettext),
                      statuses=statuses)


@router.get("/plans/{plan_id}/goals/{goal_id}/steps")
async def steps_page(request: Request, plan_id: str, goal_id: str, web: Web, user: User) -> Response:
    """The goal with its steps, a form for the next step and one for each step's status."""
    return await _page(request, web, user, plan_id, goal_id)


@router.post("/plans/{plan_id}/goals/{goal_id}/steps")
async def add_step(request: Request, plan_id: str, goal_id: str, web: Web, user: User) -> Response:
    """Add a step; a partner service's step is a referral and names the partner's type only."""
    assert user.token is not None
    form = await request.form()
    values = {name: text(form, name) for name in ("what", "who", "partner_type", "due_on")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if not values["what"]:
        errors.add("what", gettext("Enter what is to be done"))
    if values["who"] not in STEP_ACTORS:
        errors.add("who", gettext("Choose who takes the step"))
    if values["who"] == "partner" and values["partner_type"] not in PARTNER_TYPES:
        errors.add("partner_type", gettext("Choose the kind of partner service"))
    due = parse_date(values["due_on"]) if values["due_on"] else None
    if values["due_on"] and due is None:
        errors.add("due_on", gettext("Enter the date as a date, for example 30.06.2027"))
    if not errors:
        body = {"what": values["what"], "who": values["who"], "due_on": due.isoformat() if due else None,
                "partner_type": values["partner_type"] if values["who"] == "partner" else None}
        await send(web, user, errors, gettext, "POST", f"{PLANS}/{ident(plan_id)}/goals/{ident(goal_id)}/steps",
                   body, STEP_LABELS, STEP_FIELDS)
    if errors:
        return await _page(request, web, user, plan_id, goal_id, errors=errors, values=values, status_code=422)
    user.say(N_("The step has been added."))
    return RedirectResponse(f"/plans/{plan_id}/goals/{goal_id}/steps", status_code=303)


@router.post("/plans/{plan_id}/goals/{goal_id}/steps/{step_id}/status")
async def change_status(request: Request, plan_id: str, goal_id: str, step_id: str, web: Web,
                        user: User) -> Response:
    """Set a step's status (a referral: referred, accepted, done or declined)."""
    assert user.token is not None
    status = text(await request.form(), "status")
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if status not in STEP_STATUS:
        errors.add("", gettext("Choose the step's new status"))
    else:
        await send(web, user, errors, gettext, "PATCH",
                   f"{PLANS}/{ident(plan_id)}/goals/{ident(goal_id)}/steps/{ident(step_id)}", {"status": status},
                   STEP_LABELS, STEP_FIELDS)
    if errors:
        return await _page(request, web, user, plan_id, goal_id, errors=errors, status_code=422)
    user.say(N_("The step's status has been changed."))
    return RedirectResponse(f"/plans/{plan_id}/goals/{goal_id}/steps#step-{step_id}", status_code=303)
