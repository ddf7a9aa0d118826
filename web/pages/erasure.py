"""Erasure on request (Art. 17 GDPR): the lead erases a closed case's personal data on this node, with a reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import Forbidden
from web.deps import User, Web, WebState
from web.forms import FormErrors, text
from web.i18n import N_
from web.pages.case_view import CASES, ident, submitted
from web.render import gettext_for, page
from web.session import WebSession

router = APIRouter()
FIELDS = ["reason", "confirm"]
LABELS = {"reason": N_("Why is the data erased now?"), "confirm": N_("Confirmation")}
# The API's refusals, so they reach the catalogue.
REASONS = (N_("the case is open: close it first (its closing reason counts), then erase it"),)


async def _form(request: Request, web: WebState, user: WebSession, case_id: str, values: dict[str, str],
                errors: FormErrors, status_code: int = 200) -> Response:
    assert user.token is not None
    case: dict[str, Any] = await web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token)
    return await page(request, "privacy/erasure.html", status_code=status_code, case=case, values=values,
                      errors=errors)


@router.get("/cases/{case_id}/erasure")
async def erasure_form(request: Request, case_id: str, web: Web, user: User) -> Response:
    """What erasure removes and keeps, and the lead's form (an open case is closed first)."""
    if not user.has("lead"):
        raise Forbidden(403, "for team leads")
    return await _form(request, web, user, case_id, {}, FormErrors())


@router.post("/cases/{case_id}/erasure")
async def erase(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Erase through the API; back to the caseload, where the case is no more. Refusals show at the fields."""
    ident(case_id)
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if not values["reason"]:
        errors.add("reason", gettext("Enter why the client's data is erased, for example the date of their request"))
    if values["confirm"] != "yes":
        errors.add("confirm", gettext("Confirm that the data is to be erased: this cannot be undone"))
    if not errors and await submitted(web, user, "POST", f"{CASES}/{case_id}/erase", {"reason": values["reason"]},
                                      errors, gettext, LABELS, FIELDS) is not None:
        user.say(N_("The client's personal data has been erased on this node. What the figures count stays."))
        return RedirectResponse("/cases", status_code=303)
    return await _form(request, web, user, case_id, values, errors, status_code=422)
