"""The funding officer's funding years (state node): budget and fixed amounts, allocation per district."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError, Missing, checked
from web.deps import User, Web, WebState
from web.forms import FormErrors, add_api_errors, parse_int, text
from web.i18n import N_
from web.pages.funding_common import money
from web.render import gettext_for, language, page
from web.session import WebSession

router = APIRouter()
YEARS = "/api/funding/v1/years"
FIELDS = ["year", "budget_eur", "vocational", "academic"]
LABELS = {"year": N_("Funding year"), "budget_eur": N_("Budget in euros"),
          "vocational": N_("Fixed amount at the vocational level"),
          "academic": N_("Fixed amount at the academic level"),
          "rates_eur": N_("Fixed amounts"), "body": N_("CSV file"), "keys": N_("CSV file")}
CSV_MAX = 64_000  # 44 districts fit many times over


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


async def _years_page(request: Request, web: WebState, user: WebSession, values: dict[str, str],
                      errors: FormErrors, status_code: int = 200) -> Response:
    lang = language(request)
    found = [{**y, "budget_text": money(y["budget_eur"], lang),
              "vocational_text": money(y["rates_eur"]["vocational"], lang),
              "academic_text": money(y["rates_eur"]["academic"], lang)}
             for y in await web.api.fetch("GET", YEARS, _token(user))]
    return await page(request, "funding/years.html", status_code=status_code, years=found, values=values,
                      errors=errors)


@router.get("/funding/years")
async def years_page(request: Request, web: Web, user: User) -> Response:
    """The funding years with their budget and fixed amounts, and the form to set one."""
    return await _years_page(request, web, user, {}, FormErrors())


@router.post("/funding/years")
async def set_year(request: Request, web: Web, user: User) -> Response:
    """Set (or change) a funding year; it goes down to every node."""
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    numbers = {name: _whole(values[name]) for name in FIELDS}
    for name in FIELDS:
        if numbers[name] is None:
            errors.add(name, gettext("Enter a whole number"))
    if not errors:
        body = {"year": numbers["year"], "budget_eur": numbers["budget_eur"],
                "rates_eur": {"vocational": numbers["vocational"], "academic": numbers["academic"]}}
        try:
            await web.api.fetch("POST", YEARS, _token(user), json=body)
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, LABELS, FIELDS)
        else:
            user.say(N_("The funding year has been set. Every node receives it."))
            return RedirectResponse(f"/funding/years/{numbers['year']}", status_code=303)
    return await _years_page(request, web, user, values, errors, status_code=422)


async def _year_page(request: Request, web: WebState, user: WebSession, year: int, errors: FormErrors,
                     status_code: int = 200) -> Response:
    lang = language(request)
    budget = await web.api.fetch("GET", f"{YEARS}/{year}/allocation", _token(user))
    districts = [{**d, **{f"{k}_text": money(d[k], lang) for k in ("allocation_eur", "committed_eur", "remaining_eur")}}
                 for d in budget["districts"]]
    totals = {f"{k}_text": money(budget[k], lang) for k in ("budget_eur", "committed_eur", "remaining_eur")}
    return await page(request, "funding/year.html", status_code=status_code, budget=budget, districts=districts,
                      totals=totals, errors=errors)


def _whole(value: str) -> int | None:
    """A whole number as typed, German thousands separators allowed: 48.000.000."""
    digits = value.replace(".", "").replace(" ", "")
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None


def _year(value: str) -> int:
    """The year from the page's path; anything else is as missing as an unknown year."""
    number = parse_int(value)
    if number is None or not 2000 <= number <= 2099:
        raise Missing(404, "not found")
    return number


@router.get("/funding/years/{year}")
async def year_page(request: Request, year: str, web: Web, user: User) -> Response:
    """One funding year: the allocation per district by its key, committed and remaining, statewide."""
    return await _year_page(request, web, user, _year(year), FormErrors())


@router.post("/funding/years/{year}/allocation")
async def upload_keys(request: Request, year: str, web: Web, user: User) -> Response:
    """Replace the year's allocation keys from an uploaded CSV file (district;share)."""
    number = _year(year)
    form = await request.form()
    upload: Any = form.get("keys")
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    content = await upload.read(CSV_MAX + 1) if upload is not None and hasattr(upload, "read") else b""
    if not content:
        errors.add("keys", gettext("Choose a CSV file with one district and its share per line"))
    elif len(content) > CSV_MAX:
        errors.add("keys", gettext("The CSV file is too large"))
    else:
        try:
            checked(await web.api.call("PUT", f"{YEARS}/{number}/allocation", _token(user), content=content,
                                       content_type="text/csv"))
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, LABELS, ["keys", "body"])
            errors = _on_upload_field(errors)
        else:
            user.say(N_("The allocation keys have been replaced."))
            return RedirectResponse(f"/funding/years/{number}", status_code=303)
    return await _year_page(request, web, user, number, errors, status_code=422)


def _on_upload_field(errors: FormErrors) -> FormErrors:
    """The API names the body or the keys: both are the uploaded file's field on this page."""
    moved = FormErrors()
    for _field, message in errors.items:
        moved.add("keys", message)
    return moved
