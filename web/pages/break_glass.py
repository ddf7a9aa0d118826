"""Break-glass for a manager standing in for an absent colleague: open a case by its number, with a reason.

The form is its own page, reached from the caseload and from every "not found" page alike: a case page the
manager may not see answers exactly like a missing one, so offering the form there would tell them apart.
Here, too, a missing case and another municipality's answer the same; only a stated reason opens a case.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import Forbidden, Missing
from web.deps import User, Web
from web.forms import FormErrors, text
from web.i18n import N_
from web.pages.case_view import CASES, ULID, submitted
from web.render import gettext_for, page

router = APIRouter()
FIELDS = ["case_id", "reason"]
LABELS = {"case_id": N_("Case number"), "reason": N_("Why do you need this case now?")}
# The API's refusals, so they reach the catalogue.
REASONS = (N_("the case is in your own caseload: no break-glass needed"),
           N_("the case is closed: a stand-in opens only open cases"),
           N_("you already have access to this case as a stand-in"))


async def _form(request: Request, values: dict[str, str], errors: FormErrors, status_code: int = 200) -> Response:
    return await page(request, "privacy/break_glass.html", status_code=status_code, values=values, errors=errors)


@router.get("/break-glass")
async def break_glass_form(request: Request, user: User, case: str = "") -> Response:
    """The stand-in's form: the case number (from the link of a "not found" page) and the reason."""
    if not user.has("manager"):
        raise Forbidden(403, "for integration managers")
    return await _form(request, {"case_id": case if ULID.fullmatch(case) else ""}, FormErrors())


@router.post("/break-glass")
async def open_break_glass(request: Request, web: Web, user: User) -> Response:
    """Ask the API for a stand-in's access; its refusals (and a case not found) show at the fields."""
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    values["case_id"] = values["case_id"].upper()
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if not ULID.fullmatch(values["case_id"]):
        errors.add("case_id", gettext("Enter the case number: 26 letters and digits, for example "
                                      "01JB7Q9ZK4M2X8R5T3V6W0Y1NC"))
    if not values["reason"]:
        errors.add("reason", gettext("Enter why you need this case now"))
    if not errors:
        try:
            grant = await submitted(web, user, "POST", f"{CASES}/{values['case_id']}/break-glass",
                                    {"reason": values["reason"]}, errors, gettext, LABELS, FIELDS)
        except Missing:  # missing, or another municipality's: the same answer
            errors.add("case_id", gettext("There is no open case with this number in your municipality"))
            grant = None
        if grant is not None:
            user.say(N_("You have access to this case as a stand-in for a limited time. Every access is recorded."))
            return RedirectResponse(f"/cases/{grant['case_id']}", status_code=303)
    return await _form(request, values, errors, status_code=422)
