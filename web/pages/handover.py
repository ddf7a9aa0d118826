"""Hand-over to another municipality when the client moves: the lead sends the case, the receiving lead answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from web.client import ApiError, Forbidden, together
from web.deps import User, Web, WebState
from web.forms import FormErrors, add_api_errors, reason_text, text
from web.i18n import N_
from web.pages.case_view import CASELOADS, CASES, ident, submitted
from web.render import gettext_for, page
from web.session import WebSession
from web.users import municipality

router = APIRouter()
API = "/api/cases/v1"
AGS = re.compile(r"^\d{8}$")
DIRECTIONS = ("incoming", "outgoing")
FIELDS = ["consent", "to_tenant", "confirm"]
LABELS = {"to_tenant": N_("Municipality the client moves to"), "confirm": N_("Confirmation")}
ACCEPT_LABELS = {"manager": N_("Whose caseload does the case open in?")}
CONSENT_MISSING = N_("the client's consent is missing: handover (none given, or withdrawn)")
# The API's refusals, so they reach the catalogue.
REASONS = (CONSENT_MISSING, N_("the case is closed: only an open case is handed over"),
           N_("no other node in the state's directory serves this municipality"),
           N_("this node serves that municipality already: reassign the case instead"))
# The API's refusals that name an id or a status, and why a parcel was refused, by their pattern.
PATTERNS = [
    (re.compile(r"the case is being handed over already \(hand-over \w+\)"),
     N_("the case is being handed over already: wait for the receiving municipality's answer")),
    (re.compile(r"the hand-over was \w+ already"), N_("the hand-over has been answered already")),
    (re.compile(r"the parcel does not open with this node's key \(\w+\)"),
     N_("the parcel does not open with this node's key: it was changed on the way or sealed for another node")),
    (re.compile(r"the parcel is not signed by the sending node's key"),
     N_("the parcel is not signed by the sending node's key: it was changed on the way or made by someone else")),
    (re.compile(r"the parcel's inside is not a hand-over"), N_("the parcel's inside is not a hand-over")),
    (re.compile(r"the parcel's inside names another hand-over, sender or receiver"),
     N_("the parcel's inside names another hand-over, sender or receiver")),
    (re.compile(r"the directory lists no node (?P<node>\S+) serving (?P<ags>\d{8})"),
     N_("the state's directory lists no node %(node)s serving %(ags)s")),
    (re.compile(r"the parcel's case file is incomplete \(\w+\)"), N_("the parcel's case file is incomplete")),
]
STATUSES = {
    ("outgoing", "sent"): N_("Sent: waiting for the answer"),
    ("outgoing", "accepted"): N_("Accepted: the case was closed and erased here"),
    ("outgoing", "declined"): N_("Declined: the case stays here"),
    ("incoming", "received"): N_("Waiting for your answer"),
    ("incoming", "accepted"): N_("Accepted: the case is open here"),
    ("incoming", "declined"): N_("Declined"),
    ("incoming", "refused"): N_("Refused: the parcel could not be opened as sent"),
}


def worded(reason: str, gettext: Callable[[str], str]) -> str | None:
    """An API text that names an id or a status in the page's language; None when it is none we know."""
    for pattern, message in PATTERNS:
        if match := pattern.fullmatch(reason):
            return gettext(message) % match.groupdict() if match.groupdict() else gettext(message)
    return None


def place(tenant: str) -> dict[str, str]:
    """A municipality as tables.html's place cell shows it: its name, and its AGS when it has a name."""
    return {"tenant": tenant, "place": municipality(tenant)}


def option(entry: dict[str, str], gettext: Callable[[str], str]) -> tuple[str, str]:
    """A municipality of the directory as the select offers it: its name, its AGS and the node serving it."""
    ags, node = entry["tenant"], entry["node_id"]
    if municipality(ags) == ags:
        return ags, gettext("AGS %(ags)s, node %(node)s") % {"ags": ags, "node": node}
    return ags, gettext("%(place)s – AGS %(ags)s, node %(node)s") % {"place": municipality(ags), "ags": ags,
                                                                      "node": node}


def _lead(user: WebSession) -> str:
    if not user.has("lead"):
        raise Forbidden(403, "for team leads")
    assert user.token is not None
    return user.token


# -- sending ----------------------------------------------------------------------------------
async def _form(request: Request, web: WebState, token: str, case_id: str, values: dict[str, str],
                errors: FormErrors, status_code: int = 200) -> Response:
    gettext = gettext_for(request).gettext
    case, directory = await together(web.api.fetch("GET", f"{CASES}/{ident(case_id)}", token),
                                     web.api.fetch("GET", f"{API}/handover-directory", token))
    return await page(request, "privacy/handover.html", status_code=status_code, case=case, values=values,
                      errors=errors, directory=[option(d, gettext) for d in directory])


@router.get("/cases/{case_id}/handover")
async def handover_form(request: Request, case_id: str, web: Web, user: User) -> Response:
    """What travels and how, and the lead's form: the municipality the client moves to, and a confirmation."""
    return await _form(request, web, _lead(user), case_id, {}, FormErrors())


@router.post("/cases/{case_id}/handover")
async def hand_over(request: Request, case_id: str, web: Web, user: User) -> Response:
    """Send the case through the API; to the outgoing hand-overs. Refusals show at the fields."""
    token = _lead(user)
    ident(case_id)
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if not AGS.fullmatch(values["to_tenant"]):
        errors.add("to_tenant", gettext("Choose the municipality the client moves to"))
    if values["confirm"] != "yes":
        errors.add("confirm", gettext("Confirm that the case is to be handed over"))
    if not errors:
        try:
            await web.api.fetch("POST", f"{CASES}/{case_id}/handovers", token,
                                json={"to_tenant": values["to_tenant"]})
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            _refused(errors, exc, gettext)
        else:
            user.say(N_("The case has been sent. It stays here until the receiving municipality accepts it."))
            return RedirectResponse("/handovers?direction=outgoing", status_code=303)
    return await _form(request, web, token, case_id, values, errors, status_code=422)


def _refused(errors: FormErrors, exc: ApiError, gettext: Callable[[str], str]) -> None:
    """The API's refusal at its field: a missing consent at the consent's note, which links to the consents."""
    if exc.detail == CONSENT_MISSING:
        errors.add("consent", gettext(CONSENT_MISSING))
    elif isinstance(exc.detail, str):
        errors.add("", worded(exc.detail, gettext) or reason_text(exc.detail, gettext))
    else:
        add_api_errors(errors, exc, gettext, LABELS, FIELDS)


# -- the lists and the answers ----------------------------------------------------------------
async def _list(request: Request, web: WebState, token: str, direction: str, failed: str = "",
                errors: FormErrors | None = None, values: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    """The hand-overs of one direction; `failed` names the answer form whose `errors` are shown."""
    gettext = gettext_for(request).gettext
    found = await web.api.fetch("GET", f"{API}/handovers", token, params={"direction": direction})
    rows = [{**h, "from_place": place(h["from_tenant"]), "to_place": place(h["to_tenant"]),
             "status_text": gettext(STATUSES.get((h["direction"], h["status"]), h["status"])),
             "refusal_text": worded(h["refusal"], gettext) if h["refusal"] else None} for h in found]
    waiting = [h for h in rows if h["status"] == "received" and h["client"]]
    managers = await web.api.fetch("GET", CASELOADS, token) if waiting else []
    return await page(request, "privacy/handovers.html", status_code=status_code, direction=direction,
                      handovers=rows, waiting=waiting, managers=managers, failed=failed,
                      errors=errors or FormErrors(), values=values or {})


@router.get("/handovers")
async def handovers(request: Request, web: Web, user: User, direction: str = "incoming") -> Response:
    """Hand-overs into this municipality (answered here) or out of it, newest first."""
    return await _list(request, web, _lead(user), direction if direction in DIRECTIONS else "incoming")


@router.post("/handovers/{handover_id}/accept")
async def accept(request: Request, handover_id: str, web: Web, user: User) -> Response:
    """Accept: the case opens here (in the named manager's caseload, else the lead's); to its page."""
    token = _lead(user)
    ident(handover_id)
    values = {"manager": text(await request.form(), "manager")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    answer = await _answered(web, user, f"{API}/handovers/{handover_id}/accept",
                             {"manager": values["manager"]} if values["manager"] else {}, errors, gettext)
    if answer is not None:
        user.say(N_("The case has been opened here. The sending municipality now closes it and erases its data."))
        return RedirectResponse(f"/cases/{answer['case_id']}", status_code=303)
    return await _list(request, web, token, "incoming", f"a-{handover_id}-", errors, values, status_code=422)


@router.post("/handovers/{handover_id}/decline")
async def decline(request: Request, handover_id: str, web: Web, user: User) -> Response:
    """Decline after a confirmation: the parcel is destroyed here and the sending municipality keeps the case."""
    token = _lead(user)
    ident(handover_id)
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    if text(await request.form(), "confirm") != "yes":
        errors.add("confirm", gettext("Confirm that the hand-over is to be declined"))
    elif await _answered(web, user, f"{API}/handovers/{handover_id}/decline", {}, errors, gettext) is not None:
        user.say(N_("The hand-over has been declined. The sending municipality keeps the case."))
        return RedirectResponse("/handovers?direction=incoming", status_code=303)
    return await _list(request, web, token, "incoming", f"d-{handover_id}-", errors, status_code=422)


async def _answered(web: WebState, user: WebSession, path: str, body: dict[str, Any], errors: FormErrors,
                    gettext: Callable[[str], str]) -> Any:
    """The API's answer; None when it refused, its reason in `errors` (an answered one in words)."""
    found = FormErrors()
    answer = await submitted(web, user, "POST", path, body, found, gettext, ACCEPT_LABELS, ["manager"])
    for name, message in found.items:
        errors.add(name, worded(message, gettext) or message)
    return answer
