"""The case page's data-protection section: the information sheet handed over, consents and their withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import User, Web, WebState
from web.forms import FormErrors, parse_date, text
from web.i18n import N_
from web.pages.case_view import CASES, case_view, ident, submitted
from web.render import gettext_for, page
from web.session import WebSession

router = APIRouter()
ANCHOR = "#privacy"
SHEET_FIELDS = ["handed_on", "language"]
SHEET_LABELS = {"handed_on": N_("Handed over on"), "language": N_("Language of the sheet")}
CONSENT_FIELDS = ["purpose", "partner", "given_on", "form"]
CONSENT_LABELS = {"purpose": N_("What does the client consent to?"), "partner": N_("Partner service"),
                  "given_on": N_("Given on"), "form": N_("How was it given?")}
DATE_HINT = N_("Enter the date as a date, for example 27.03.2026")


async def _refused(request: Request, web: WebState, user: WebSession, case_id: str, prefix: str,
                   values: dict[str, str], errors: FormErrors) -> Response:
    """The case page again with the form's values and its errors (422)."""
    view = await case_view(request, web, user, case_id, **{f"{prefix}_errors": errors, f"{prefix}_values": values})
    return await page(request, "case.html", status_code=422, errors=errors, **view)


# A form's check: the API's body from what was typed, adding what the form can tell is wrong to `errors`.
Check = Callable[[dict[str, str], FormErrors, Callable[[str], str]], dict[str, Any]]


@dataclass(frozen=True)
class SectionForm:
    """A form of the case page's data-protection section, sent to one API call of the case."""

    fields: list[str]
    labels: dict[str, str]
    prefix: str  # its part of the case view: `<prefix>_values`, `<prefix>_errors`
    call: str  # the API call's path after the case's
    done: str
    check: Check

    async def post(self, request: Request, case_id: str, web: WebState, user: WebSession) -> Response:
        """Check, send, and go back to the section; refusals (the form's and the API's) show at the fields."""
        ident(case_id)
        form = await request.form()
        values = {name: text(form, name) for name in self.fields}
        gettext = gettext_for(request).gettext
        errors = FormErrors()
        body = self.check(values, errors, gettext)
        if not errors and await submitted(web, user, "POST", f"{CASES}/{case_id}/{self.call}", body, errors,
                                          gettext, self.labels, self.fields) is not None:
            user.say(self.done)
            return RedirectResponse(f"/cases/{case_id}{ANCHOR}", status_code=303)
        return await _refused(request, web, user, case_id, self.prefix, values, errors)


def _sheet(values: dict[str, str], errors: FormErrors, gettext: Callable[[str], str]) -> dict[str, Any]:
    handed = parse_date(values["handed_on"])
    if handed is None:
        errors.add("handed_on", gettext(DATE_HINT))
    if not values["language"]:
        errors.add("language", gettext("Choose the language of the sheet"))
    return {"handed_on": handed.isoformat() if handed else None, "language": values["language"]}


def _consent(values: dict[str, str], errors: FormErrors, gettext: Callable[[str], str]) -> dict[str, Any]:
    given = parse_date(values["given_on"])
    if not values["purpose"]:
        errors.add("purpose", gettext("Choose what the client consents to"))
    if values["purpose"] == "partner_sharing" and not values["partner"]:
        errors.add("partner", gettext("Enter the partner service the data may be shared with"))
    if given is None:
        errors.add("given_on", gettext(DATE_HINT))
    if not values["form"]:
        errors.add("form", gettext("Choose how the consent was given"))
    return {"purpose": values["purpose"], "given_on": given.isoformat() if given else None, "form": values["form"],
            "partner": values["partner"] or None}


SHEET = SectionForm(SHEET_FIELDS, SHEET_LABELS, "i", "information-sheets",
                    N_("The information sheet has been recorded."), _sheet)
CONSENT = SectionForm(CONSENT_FIELDS, CONSENT_LABELS, "k", "consents", N_("The consent has been recorded."), _consent)


@router.post("/cases/{case_id}/information-sheets")
async def record_information(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Record the information sheet handed to the client; refusals show at the form."""
    return await SHEET.post(request, case_id, web, user)


@router.post("/cases/{case_id}/consents")
async def record_consent(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Record a consent the client gave; refusals show at the form."""
    return await CONSENT.post(request, case_id, web, user)


@router.post("/cases/{case_id}/consents/{consent_id}/withdraw")
async def withdraw_consent(request: Request, case_id: str, consent_id: str, web: Web, user: User) -> Response:
    """Record that the client withdrew a consent today; a refusal shows at the consent form."""
    ident(case_id)
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if await submitted(web, user, "POST", f"{CASES}/{case_id}/consents/{ident(consent_id)}/withdraw", {}, errors,
                       gettext, {}, []) is not None:
        user.say(N_("The withdrawal has been recorded."))
        return RedirectResponse(f"/cases/{case_id}{ANCHOR}", status_code=303)
    return await _refused(request, web, user, case_id, "k", {}, errors)
