"""The lead applies to the state for a new position: FTE, qualification, requested start and term, justification.

Its path `/positions/new` is mounted before positions.py's `/positions/{position_id}` (page modules mount in
name order, and this one sorts first).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError
from web.deps import User, Web
from web.forms import FormErrors, add_api_errors, parse_date, parse_int, text
from web.i18n import N_
from web.labels import options
from web.pages.positions import JUSTIFICATION, check_justification
from web.render import gettext_for, page
from web.session import WebSession
from web.users import municipality

router = APIRouter()
APPLY = "/api/funding/v1/new-position-applications"
FIELDS = ["tenant", "fte", "qualification", "starts_on", "months", "justification"]
LABELS = {"tenant": N_("Municipality"), "fte": N_("FTE"), "qualification": N_("Qualification of the holder"),
          "starts_on": N_("Requested start"), "months": N_("Months applied for"),
          "justification": N_("Justification")}
FTE_MIN, FTE_MAX, FTE_STEP = 0.25, 1.0, 0.05  # as the API allows (services/funding/terms.py)
MONTHS_MAX = 60  # an approval runs at most five years
# The API's own reasons for these fields, so they reach the catalogue.
API_REASONS = (N_("must be a multiple of 0.05"),)


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


def parse_fte(value: str) -> float | None:
    """FTE as people type it (0,75 or 0.75), or None when it is no number."""
    found = value.replace(" ", "").replace(",", ".")
    return float(found) if re.fullmatch(r"[01](\.[0-9]{1,2})?|\.[0-9]{1,2}", found) else None


def _form_page(request: Request, user: WebSession, values: dict[str, str], errors: FormErrors,
               status_code: int = 200) -> Any:
    gettext = gettext_for(request).gettext
    places = [(t, municipality(t)) for t in sorted(user.tenants)]
    return page(request, "funding/new_position.html", status_code=status_code, values=values, errors=errors,
                qualifications=options("qualification", gettext), places=places, limits=JUSTIFICATION,
                months_max=MONTHS_MAX)


@router.get("/positions/new")
async def new_position_form(request: Request, user: User) -> Response:
    """The form to apply to the state for a new position."""
    return await _form_page(request, user, {"tenant": sorted(user.tenants)[0] if user.tenants else ""},
                            FormErrors())


def _check(values: dict[str, str], user: WebSession, gettext: Any) -> tuple[FormErrors, dict[str, Any]]:
    """The form's errors in the page's language, and the API's body when there are none."""
    errors = FormErrors()
    if len(user.tenants) > 1 and values["tenant"] not in user.tenants:
        errors.add("tenant", gettext("Choose the municipality"))
    fte = parse_fte(values["fte"])
    if fte is None or not FTE_MIN <= fte <= FTE_MAX:
        errors.add("fte", gettext("Enter the FTE as a number from 0,25 to 1, for example 0,75"))
    elif abs(fte / FTE_STEP - round(fte / FTE_STEP)) > 1e-9:
        errors.add("fte", gettext("Enter the FTE in steps of 0,05, for example 0,5 or 0,75"))
    if values["qualification"] not in ("vocational", "academic"):
        errors.add("qualification", gettext("Choose the qualification level of the holder"))
    starts_on = parse_date(values["starts_on"])
    if starts_on is None:
        errors.add("starts_on", gettext("Enter the date as a date, for example 01.03.2026"))
    months = parse_int(values["months"])
    if months is None or not 1 <= months <= MONTHS_MAX:
        errors.add("months", gettext("Enter the months as a whole number from 1 to %(num)d") % {"num": MONTHS_MAX})
    check_justification(errors, values["justification"], gettext)
    body = {"tenant": values["tenant"] or None, "fte": fte, "qualification": values["qualification"],
            "starts_on": starts_on.isoformat() if isinstance(starts_on, date) else None, "months": months,
            "justification": values["justification"]}
    return errors, body


@router.post("/positions/new")
async def apply_for_new_position(request: Request, web: Web, user: User) -> Response:
    """Send the application to the state; its refusals show at the fields they name."""
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    if len(user.tenants) == 1:
        values["tenant"] = next(iter(user.tenants))
    gettext = gettext_for(request).gettext
    errors, body = _check(values, user, gettext)
    if not errors:
        try:
            application = await web.api.fetch("POST", APPLY, _token(user), json=body)
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            add_api_errors(errors, exc, gettext, LABELS, FIELDS)
        else:
            user.say(N_("Your application for a new position has been sent to the state. "
                        "Its decision will reach your inbox."))
            return RedirectResponse(f"/positions/{application['position_id']}#applications", status_code=303)
    return await _form_page(request, user, values, errors, status_code=422)
