"""The manager's pages: the caseload, opening a case, the case page and recording a consultation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_date, parse_int, text
from web.i18n import N_
from web.labels import CASE_STATUS, RELATIONS, options
from web.pages.case_view import CASELOADS, CASES, ULID, case_view, ident, submitted
from web.render import gettext_for, is_htmx, page, partial
from web.users import municipality

router = APIRouter()
PAGE_SIZE = 25
CASE_FIELDS = ["given_name", "family_name", "birth_date", "nationality", "languages", "household_size",
               "eligibility", "accommodation_since", "eligible_since", "household_members", "tenant"]
CASE_LABELS = {"given_name": N_("Given name"), "family_name": N_("Family name"),
               "birth_date": N_("Date of birth"), "nationality": N_("Nationality"), "languages": N_("Languages"),
               "household_size": N_("People in the household"),
               "eligibility": N_("Why may the programme counsel this person?"),
               "accommodation_since": N_("In follow-up accommodation since"),
               "eligible_since": N_("Temporary protection granted on"),
               "household_members": N_("Household members counselled alongside"), "tenant": N_("Municipality")}
REQUIRED = {"given_name": N_("Enter the given name"), "family_name": N_("Enter the family name")}
CONSULTATION_FIELDS = ["held_on", "duration_minutes", "mode", "topics", "note"]
CONSULTATION_LABELS = {"held_on": N_("Date"), "duration_minutes": N_("Duration in minutes"),
                       "mode": N_("How was it held?"), "topics": N_("Topics"), "note": N_("Note")}


@router.get("/cases")
async def caseload(request: Request, web: Web, user: User, status: str = "", q: str = "", manager: str = "",
                   cursor: str = "") -> Response:
    """The caller's visible cases (a manager's own, a lead's municipality's), searched by the API, paged."""
    status = status if status in CASE_STATUS else ""
    cursor = cursor if ULID.match(cursor) else ""
    q, manager = " ".join(q.split())[:100], manager.strip()[:255] if user.has("lead") else ""
    assert user.token is not None
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if len(q) == 1:
        errors.add("q", gettext("Enter at least two letters of the name, or the date of birth"))
    cases, next_cursor = [], None
    if not errors:
        answer = await web.api.fetch("GET", f"{CASES}", user.token, params={
            "status": status, "q": q or None, "manager": manager or None, "cursor": cursor, "limit": PAGE_SIZE})
        cases, next_cursor = answer["items"], answer["next_cursor"]
    managers = await web.api.fetch("GET", CASELOADS, user.token) if user.has("lead") else []
    query = {k: v for k, v in {"status": status, "q": q, "manager": manager}.items() if v}
    next_url = f"/cases?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None
    return await page(
        request, "caseload.html", status_code=422 if errors else 200, errors=errors, cases=cases, status=status,
        q=q, manager=manager, cursor=cursor, next_url=next_url,
        first_url="/cases" + (f"?{urlencode(query)}" if query else ""),
        managers=[(m["manager"], m["manager"]) for m in managers],
        title=gettext("My caseload") if user.has("manager") and not user.has("lead") else gettext("Cases"),
        statuses=options("case_status", gettext))


def person_of(values: dict[str, str], errors: FormErrors, gettext: Callable[[str], str]) -> dict[str, Any]:
    """The personal data fields of the API's body, checked as far as the form can; errors added."""
    for name in ("given_name", "family_name"):
        if not values[name]:
            errors.add(name, gettext(REQUIRED[name]))
    born, household = parse_date(values["birth_date"]), parse_int(values["household_size"])
    if born is None:
        errors.add("birth_date", gettext("Enter the date of birth as a date, for example 27.03.1990"))
    if not values["nationality"]:
        errors.add("nationality", gettext("Enter the nationality as a three-letter code, for example SYR"))
    if household is None:
        errors.add("household_size", gettext("Enter the number of people in the household, for example 3"))
    return {"given_name": values["given_name"], "family_name": values["family_name"],
            "birth_date": born.isoformat() if born else None, "nationality": values["nationality"].upper(),
            "languages": [p.strip().lower() for p in values["languages"].replace(";", ",").split(",") if p.strip()],
            "household_size": household}


def household_members(values: dict[str, str]) -> list[dict[str, str]] | None:
    """The members counselled alongside from the form's count per relation; None if a count is no number."""
    members: list[dict[str, str]] = []
    for relation in RELATIONS:
        typed = values[f"members_{relation}"]
        count = parse_int(typed) if typed else 0
        if count is None or count > 29:
            return None
        members += [{"relation": relation}] * count
    return members


def _new_case_page(request: Request, user: User, values: dict[str, Any], errors: FormErrors,
                   status_code: int = 200) -> Any:
    tenants = [(t, municipality(t)) for t in user.tenants]
    gettext = gettext_for(request).gettext
    return page(request, "case_new.html", status_code=status_code, values=values, errors=errors, tenants=tenants,
                eligibilities=options("eligibility", gettext), relations=options("relation", gettext))


@router.get("/cases/new")
async def new_case_form(request: Request, user: User) -> Response:
    """The form to open a case."""
    return await _new_case_page(request, user, {}, FormErrors())


@router.post("/cases/new")
async def open_case(request: Request, web: Web, user: User) -> Response:
    """Open the case through the API; its refusals show at the fields they name."""
    form = await request.form()
    values = {name: text(form, name) for name in [*CASE_FIELDS, *(f"members_{r}" for r in RELATIONS)]}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    person = person_of(values, errors, gettext)
    since = parse_date(values["accommodation_since"])
    follow_up = values["eligibility"] in ("", "follow_up_accommodation")
    if since is None and (follow_up or values["accommodation_since"]):
        errors.add("accommodation_since", gettext("Enter the date as a date, for example 01.09.2025"))
    granted = parse_date(values["eligible_since"])
    if granted is None and (not follow_up or values["eligible_since"]):
        errors.add("eligible_since", gettext("Enter the date the protection was granted, for example 11.04.2022"))
    members = household_members(values)
    if members is None:
        errors.add("household_members",
                   gettext("Enter each number as a whole number, for example 2, or leave it empty"))
    if len(user.tenants) > 1 and not values["tenant"]:
        errors.add("tenant", gettext("Choose the municipality"))
    if not errors:
        assert user.token is not None
        body = {**person, "eligibility": values["eligibility"] or "follow_up_accommodation",
                "accommodation_since": since.isoformat() if since else None,
                "eligible_since": granted.isoformat() if granted else None,
                "household_members": members, "tenant": values["tenant"] or None}
        case = await submitted(web, user, "POST", CASES, body, errors, gettext, CASE_LABELS, CASE_FIELDS)
        if case is not None:
            user.say(N_("The case has been opened."))
            return RedirectResponse(f"/cases/{case['id']}", status_code=303)
    return await _new_case_page(request, user, values, errors, status_code=422)


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str, web: Web, user: User) -> Response:
    """The case: personal data, consultations, the plan and its goals."""
    return await page(request, "case.html", **await case_view(request, web, user, case_id))


@router.post("/cases/{case_id}/consultations")
async def record_consultation(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Record a consultation; HTMX swaps the list, without JavaScript the page reloads."""
    ident(case_id)
    form = await request.form()
    values: dict[str, Any] = {name: text(form, name) for name in CONSULTATION_FIELDS}
    values["topics"] = [t for t in form.getlist("topics") if isinstance(t, str)]
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    held, minutes = parse_date(values["held_on"]), parse_int(values["duration_minutes"])
    if held is None:
        errors.add("held_on", gettext("Enter the date of the consultation, for example 27.03.2026"))
    if minutes is None:
        errors.add("duration_minutes", gettext("Enter the duration in whole minutes, for example 45"))
    if not values["mode"]:
        errors.add("mode", gettext("Choose how the consultation was held"))
    if not values["topics"]:
        errors.add("topics", gettext("Choose at least one topic"))
    if not errors:
        assert user.token is not None and held is not None
        body = {"held_on": held.isoformat(), "duration_minutes": minutes, "mode": values["mode"],
                "topics": values["topics"], "note": values["note"] or None}
        try:
            await web.api.fetch("POST", f"{CASES}/{case_id}/consultations", user.token, json=body)
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            add_api_errors(errors, exc, gettext, CONSULTATION_LABELS, CONSULTATION_FIELDS)
    if errors:
        view = await case_view(request, web, user, case_id, c_errors=errors, c_values=values)
        if is_htmx(request):
            return partial(request, "partials/consultations.html", status_code=422, **view)
        return await page(request, "case.html", status_code=422, errors=errors, **view)
    if is_htmx(request):
        view = await case_view(request, web, user, case_id, said=gettext("The consultation has been recorded."))
        # the first consultation starts the counselling period: its section is swapped in as well
        return partial(request, "partials/consultations.html", oob_counselling=True, **view)
    user.say(N_("The consultation has been recorded."))
    return RedirectResponse(f"/cases/{case_id}#consultations", status_code=303)
