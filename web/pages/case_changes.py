"""Changes to a case after it was opened: corrections, the lead's extension of the counselling, hand-over, closing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import User, Web, WebState
from web.forms import FormErrors, parse_date, text
from web.i18n import N_
from web.pages.case_view import CASES, case_view, ident, submitted
from web.pages.cases import CASE_LABELS, person_of
from web.render import format_date, gettext_for, page
from web.session import WebSession

router = APIRouter()


@dataclass(frozen=True)
class OneFieldForm:
    """A form on the case page that sends one text field to one API call (the lead's extension, hand-over)."""

    field: str
    label: str
    missing: str  # the message when the field is left empty
    call: str  # the API call's path after the case's
    prefix: str  # the form's part of the case view: its values and errors are `<prefix>_values`, `<prefix>_errors`
    done: str  # the message on the next page
    anchor: str = ""

    async def post(self, request: Request, case_id: str, web: WebState, user: WebSession) -> Response:
        """Send the field; the API's refusals (and an empty field) show at the form on the case page."""
        ident(case_id)
        values = {self.field: text(await request.form(), self.field)}
        gettext = gettext_for(request).gettext
        errors = FormErrors()
        if not values[self.field]:
            errors.add(self.field, gettext(self.missing))
        else:
            await submitted(web, user, "POST", f"{CASES}/{case_id}/{self.call}", values, errors, gettext,
                            {self.field: self.label}, [self.field])
        if errors:
            view = await case_view(request, web, user, case_id,
                                   **{f"{self.prefix}_errors": errors, f"{self.prefix}_values": values})
            return await page(request, "case.html", status_code=422, errors=errors, **view)
        user.say(self.done)
        return RedirectResponse(f"/cases/{case_id}{self.anchor}", status_code=303)


EXTENSION = OneFieldForm("justification", N_("Justification"),
                         N_("Enter why this person needs a fourth year of counselling"), "counselling-extension", "x",
                         N_("The counselling has been extended to four years."), "#counselling")
CLOSING = OneFieldForm("reason", N_("Why does the counselling end?"), N_("Choose why the counselling ends"), "close",
                      "z", N_("The case has been closed."), "#closing")
HANDOVER = OneFieldForm("manager", N_("Manager"), N_("Enter the user id of the manager who takes the case over"),
                        "reassign", "r", N_("The case has been handed over."))


@router.post("/cases/{case_id}/counselling-extension")
async def extend_counselling(request: Request, case_id: str, web: Web, user: User) -> Response:
    """The lead extends the counselling once, to four years; refusals show at the form."""
    return await EXTENSION.post(request, case_id, web, user)


EDIT_FIELDS = ["given_name", "family_name", "birth_date", "nationality", "languages", "household_size",
               "accommodation_since"]


def _form_values(case: dict[str, Any]) -> dict[str, str]:
    """The case as the edit form shows it: dates as 31.12.2026, languages comma-separated."""
    return {"given_name": case["given_name"], "family_name": case["family_name"],
            "birth_date": format_date(case["birth_date"]), "nationality": case["nationality"],
            "languages": ", ".join(case["languages"]), "household_size": str(case["household_size"]),
            "accommodation_since": format_date(case["accommodation_since"])}


async def _edit_page(request: Request, case: dict[str, Any], values: dict[str, str], errors: FormErrors,
                     status_code: int = 200) -> Response:
    return await page(request, "case_edit.html", status_code=status_code, case=case, values=values, errors=errors)


@router.get("/cases/{case_id}/edit")
async def edit_form(request: Request, case_id: str, web: Web, user: User) -> Response:
    """The form to correct the client's personal data."""
    assert user.token is not None
    case = await web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token)
    return await _edit_page(request, case, _form_values(case), FormErrors())


@router.post("/cases/{case_id}/edit")
async def edit(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Send the corrected fields to the API; its refusals show at the fields they name."""
    assert user.token is not None
    case = await web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token)
    form = await request.form()
    values = {name: text(form, name) for name in EDIT_FIELDS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    person = person_of(values, errors, gettext)
    since = parse_date(values["accommodation_since"])
    if values["accommodation_since"] and since is None:
        errors.add("accommodation_since", gettext("Enter the date as a date, for example 01.09.2025"))
    if not errors:
        body = {**person, "accommodation_since": since.isoformat() if since else None}
        if await submitted(web, user, "PATCH", f"{CASES}/{case_id}", body, errors, gettext, CASE_LABELS,
                           EDIT_FIELDS) is not None:
            user.say(N_("The personal data has been changed."))
            return RedirectResponse(f"/cases/{case_id}", status_code=303)
    return await _edit_page(request, case, values, errors, status_code=422)


@router.post("/cases/{case_id}/reassign")
async def reassign(request: Request, case_id: str, web: Web, user: User) -> Response:
    """The lead hands the case to another manager; the case then leaves the old manager's caseload."""
    return await HANDOVER.post(request, case_id, web, user)


@router.post("/cases/{case_id}/close")
async def close(request: Request, case_id: str, web: Web, user: User) -> Response:
    """The manager (or the lead) closes the case with the reason the counselling ends; it stays readable."""
    return await CLOSING.post(request, case_id, web, user)
