"""The integration plan on the case page: its part of the page, adding, editing a goal, changing its status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError, Missing
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_date, text
from web.i18n import N_
from web.labels import GOAL_STATUS, TOPICS
from web.pages.case_view import PLANS, case_view, choice_lists, ident, plan_of
from web.render import format_date, gettext_for, is_htmx, page, partial

router = APIRouter()
GOAL_FIELDS = ["area", "title", "target_date", "status"]
GOAL_LABELS = {"area": N_("Area"), "title": N_("Goal"), "target_date": N_("Target date"), "status": N_("Status")}


@router.get("/cases/{case_id}/plan")
async def plan_part(request: Request, case_id: str, web: Web, user: User, attempt: int = 0) -> Response:
    """The plan's part of the case page (HTMX asks again while the plan is being made)."""
    ident(case_id)
    if not is_htmx(request):
        return RedirectResponse(f"/cases/{case_id}#plan", status_code=303)
    plan = await plan_of(web, user, case_id)
    return partial(request, "partials/plan.html", plan=plan, case={"id": case_id}, attempt=max(0, attempt),
                   g_errors=FormErrors(), g_values={}, **choice_lists(request))


async def _after_change(request: Request, web: Web, user: User, plan_id: str, errors: FormErrors,
                        values: dict[str, Any], said: str) -> Response:
    """The plan as it is now: swapped in by HTMX, or the case page (errors) or a redirect to it."""
    assert user.token is not None
    plan = await web.api.fetch("GET", f"{PLANS}/{plan_id}", user.token)
    gettext = gettext_for(request).gettext
    if errors:
        if is_htmx(request):
            return partial(request, "partials/plan.html", status_code=422, plan=plan, case={"id": plan["case_id"]},
                           attempt=0, g_errors=errors, g_values=values, **choice_lists(request))
        view = await case_view(request, web, user, plan["case_id"], g_errors=errors, g_values=values)
        return await page(request, "case.html", status_code=422, errors=errors, **view)
    if is_htmx(request):
        return partial(request, "partials/plan.html", plan=plan, case={"id": plan["case_id"]}, attempt=0,
                       g_errors=FormErrors(), g_values={}, said=gettext(said), **choice_lists(request))
    user.say(said)
    return RedirectResponse(f"/cases/{plan['case_id']}#plan", status_code=303)


async def send(web: Web, user: User, errors: FormErrors, gettext: Any, method: str, path: str,
               body: dict[str, Any], labels: dict[str, str] = GOAL_LABELS, order: list[str] = GOAL_FIELDS) -> None:
    """Send a change to the API; its refusals (409, 422) become the form's errors at the fields named."""
    assert user.token is not None
    try:
        await web.api.fetch(method, path, user.token, json=body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        add_api_errors(errors, exc, gettext, labels, order)


@router.post("/plans/{plan_id}/goals")
async def add_goal(request: Request, plan_id: str, web: Web, user: User) -> Response:
    """Add a goal to the plan; the plan's version rises."""
    ident(plan_id)
    form = await request.form()
    values = {name: text(form, name) for name in ("area", "title", "target_date")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if values["area"] not in TOPICS:
        errors.add("area", gettext("Choose the area of the goal"))
    if not values["title"]:
        errors.add("title", gettext("Enter the goal"))
    target = parse_date(values["target_date"]) if values["target_date"] else None
    if values["target_date"] and target is None:
        errors.add("target_date", gettext("Enter the target date as a date, for example 30.06.2027"))
    if not errors:
        await send(web, user, errors, gettext, "POST", f"{PLANS}/{plan_id}/goals",
                    {"area": values["area"], "title": values["title"],
                     "target_date": target.isoformat() if target else None})
    return await _after_change(request, web, user, plan_id, errors, values, N_("The goal has been added."))


@router.post("/plans/{plan_id}/goals/{goal_id}/status")
async def change_goal_status(request: Request, plan_id: str, goal_id: str, web: Web, user: User) -> Response:
    """Set a goal's status; the plan's version rises."""
    ident(plan_id)
    ident(goal_id)
    status = text(await request.form(), "status")
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if status not in GOAL_STATUS:
        errors.add("", gettext("Choose the goal's new status"))
    else:
        await send(web, user, errors, gettext, "PATCH", f"{PLANS}/{plan_id}/goals/{goal_id}", {"status": status})
    return await _after_change(request, web, user, plan_id, errors, {}, N_("The goal's status has been changed."))


def _goal_of(plan: dict[str, Any], goal_id: str) -> dict[str, Any]:
    """The plan's goal; one of another plan is as missing as an unknown one."""
    goal = next((g for g in plan["goals"] if g["id"] == goal_id), None)
    if goal is None:
        raise Missing(404, "not found")
    return goal


async def _editing(request: Request, web: Web, user: User, plan: dict[str, Any], goal_id: str,
                   errors: FormErrors, values: dict[str, Any], status_code: int = 200) -> Response:
    """The plan with one goal's row as its edit form: swapped in by HTMX, else the whole case page."""
    parts = {"editing": goal_id, "e_errors": errors, "e_values": values}
    if is_htmx(request):
        return partial(request, "partials/plan.html", status_code=status_code, plan=plan,
                       case={"id": plan["case_id"]}, attempt=0, g_errors=FormErrors(), g_values={},
                       **parts, **choice_lists(request))
    view = await case_view(request, web, user, plan["case_id"], **parts)
    return await page(request, "case.html", status_code=status_code, errors=errors, **view)


@router.get("/plans/{plan_id}/goals/{goal_id}/edit")
async def edit_goal_form(request: Request, plan_id: str, goal_id: str, web: Web, user: User) -> Response:
    """The goal's row as a form for its title and target date (HTMX swaps just the row)."""
    ident(plan_id)
    ident(goal_id)
    assert user.token is not None
    plan = await web.api.fetch("GET", f"{PLANS}/{plan_id}", user.token)
    goal = _goal_of(plan, goal_id)
    values = {"title": goal["title"], "target_date": format_date(goal["target_date"])}
    if plan["status"] == "closed":
        return RedirectResponse(f"/cases/{plan['case_id']}#plan", status_code=303)
    if is_htmx(request):
        return partial(request, "partials/goal_edit.html", plan=plan, goal=goal, e_errors=FormErrors(),
                       e_values=values)
    return await _editing(request, web, user, plan, goal_id, FormErrors(), values)


@router.post("/plans/{plan_id}/goals/{goal_id}")
async def edit_goal(request: Request, plan_id: str, goal_id: str, web: Web, user: User) -> Response:
    """Change a goal's title and target date (an empty date clears it); the plan's version rises."""
    ident(plan_id)
    ident(goal_id)
    form = await request.form()
    values = {name: text(form, name) for name in ("title", "target_date")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if not values["title"]:
        errors.add("title", gettext("Enter the goal"))
    target = parse_date(values["target_date"]) if values["target_date"] else None
    if values["target_date"] and target is None:
        errors.add("target_date", gettext("Enter the target date as a date, for example 30.06.2027"))
    if not errors:
        await send(web, user, errors, gettext, "PATCH", f"{PLANS}/{plan_id}/goals/{goal_id}",
                    {"title": values["title"], "target_date": target.isoformat() if target else None})
    if errors:
        assert user.token is not None
        plan = await web.api.fetch("GET", f"{PLANS}/{plan_id}", user.token)
        _goal_of(plan, goal_id)
        return await _editing(request, web, user, plan, goal_id, errors, values, status_code=422)
    return await _after_change(request, web, user, plan_id, errors, {}, N_("The goal has been changed."))
