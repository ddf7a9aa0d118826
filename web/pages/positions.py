"""The lead's positions: the register (status, FTE, term, occupancy), a position, applying for an extension."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from shared import clock
from web.client import ApiError, checked
from web.deps import User, Web, WebState
from web.forms import FormErrors, add_api_errors, parse_date, parse_int, text
from web.i18n import N_
from web.labels import EXTENSION_KINDS, options
from web.pages.case_view import ident
from web.pages.funding_common import money
from web.pages.operator_tables import Column, chosen, decimal, sort_headers, sorted_rows
from web.render import format_date, gettext_for, language, page
from web.session import WebSession
from web.users import municipality

router = APIRouter()
POSITIONS = "/api/funding/v1/positions"
APPLICATIONS = "/api/funding/v1/extension-applications"
API_PAGE = 200  # the API's largest page; a municipality has far fewer positions
API_PAGES = 20  # and the register stops asking after this many pages
PAGE_SIZE = 25
COLUMNS = [Column("ends_on", N_("Term ends")), Column("starts_on", N_("Term starts")),
           Column("fte", N_("FTE"), descending=True), Column("status", N_("Status")),
           Column("place", N_("Municipality"))]
KINDS = [k for k in EXTENSION_KINDS if k != "new_position"]  # a new position is applied for on its own form
JUSTIFICATION = (20, 4000)  # its length after trimming, as the API counts it
FIELDS = ["kind", "justification", "interruption_from", "interruption_to"]
LABELS = {"kind": N_("What do you apply for?"), "justification": N_("Justification"),
          "interruption_from": N_("Interruption from"), "interruption_to": N_("Interruption until")}
PAYOUT_LABELS = {"year": N_("Funding year"), "paid_eur": N_("Paid out")}
# The API's own reasons for these fields, so they reach the catalogue.
API_REASONS = (N_("only for kind interruption_12_months"), N_("required for kind interruption_12_months"),
               N_("must be after interruption_from"), N_("the position is not funded in this year"))


def _token(user: WebSession) -> str:
    assert user.token is not None
    return user.token


async def all_positions(web: WebState, user: WebSession) -> list[dict[str, Any]]:
    """Every position the lead may see, page after page of the API."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(API_PAGES):
        answer = await web.api.fetch("GET", POSITIONS, _token(user), params={"limit": API_PAGE, "cursor": cursor})
        found += answer["items"]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    return found


FUNDED = ("approved", "occupied", "vacant")  # a new position applied for, refused or withdrawn is not


def _shown(position: dict[str, Any], lang: str) -> dict[str, Any]:
    return {**position, "place": municipality(position["tenant"]), "fte_text": decimal(position["fte"], lang),
            "extensible": position["status"] in FUNDED and not position["ended"]}


@router.get("/positions")
async def register(request: Request, web: Web, user: User, sort: str = "",
                   page_no: str = Query("", alias="page")) -> Response:
    """The municipality's positions, sorted by a column and paged, each with its extension's state."""
    lang = language(request)
    rows = [_shown(p, lang) for p in await all_positions(web, user)]
    column = chosen(COLUMNS, sort)
    rows = sorted_rows(rows, column, then=("ends_on", "id"))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    current = min(int(page_no) if page_no.isdigit() and len(page_no) < 6 else 0, pages - 1)
    return await page(
        request, "lead/positions.html", positions=rows[current * PAGE_SIZE:(current + 1) * PAGE_SIZE],
        total=len(rows), page_no=current, pages=pages, query={"sort": column.key},
        several=len(user.tenants) > 1, this_year=clock.today().year,
        headers=sort_headers("/positions", {}, column, COLUMNS, gettext_for(request).gettext))


async def _position(request: Request, web: WebState, user: WebSession, position_id: str) -> dict[str, Any]:
    position = await web.api.fetch("GET", f"{POSITIONS}/{ident(position_id)}", _token(user))
    return _shown(position, language(request))


@router.get("/positions/{position_id}")
async def position_page(request: Request, position_id: str, web: Web, user: User) -> Response:
    """One position: term, grant per funding year, occupancy history, and its applications with decisions."""
    position = await _position(request, web, user, position_id)
    applications = await web.api.fetch("GET", f"{POSITIONS}/{position_id}/extension-applications", _token(user))
    return await _position_page(request, web, user, position, applications, {}, FormErrors())


async def _position_page(request: Request, web: WebState, user: WebSession, position: dict[str, Any],
                         applications: list[Any], values: dict[str, str], errors: FormErrors,
                         status_code: int = 200) -> Response:
    path = f"{POSITIONS}/{position['id']}"
    grants = await web.api.fetch("GET", f"{path}/grants", _token(user))
    paid = {p["year"]: p for p in await web.api.fetch("GET", f"{path}/proof-of-use", _token(user))}
    history = await web.api.fetch("GET", f"{path}/occupancy", _token(user))
    lang = language(request)
    shown = [{**g, "amount_text": money(g["amount_eur"], lang), "rate_text": money(g["rate_eur"], lang),
              "paid_text": money(paid[g["year"]]["paid_eur"], lang),
              "unspent_text": money(paid[g["year"]]["unspent_eur"], lang)} for g in grants["items"]]
    return await page(request, "lead/position.html", status_code=status_code, position=position,
                      applications=applications, grants=shown, history=history, values=values, errors=errors,
                      year_options=[(str(g["year"]), str(g["year"])) for g in grants["items"]])


def euros(value: str) -> str | None:
    """An amount as people type it (25.000,50 or 25000.50 or 25.000) as the API's decimal, or None."""
    text = value.replace(" ", "").removesuffix("€")
    if "," in text or re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})+", text):
        text = text.replace(".", "").replace(",", ".")
    return text if re.fullmatch(r"[0-9]{1,8}(\.[0-9]{1,2})?", text) else None


@router.post("/positions/{position_id}/payouts")
async def enter_payout(request: Request, position_id: str, web: Web, user: User) -> Response:
    """Enter what was paid out for the position in a funding year (the proof of use)."""
    position = await _position(request, web, user, position_id)
    form = await request.form()
    values = {name: text(form, name) for name in ("year", "paid_eur")}
    gettext = gettext_for(request).gettext
    errors = FormErrors()
    year = parse_int(values["year"])
    amount = euros(values["paid_eur"])
    if year is None:
        errors.add("year", gettext("Choose the funding year"))
    if amount is None:
        errors.add("paid_eur", gettext("Enter the amount in euros, for example 25.000,00"))
    if not errors:
        try:
            await web.api.fetch("PUT", f"{POSITIONS}/{position_id}/payouts/{year}", _token(user),
                                json={"paid_eur": amount})
        except ApiError as exc:
            if exc.status != 422:
                raise
            add_api_errors(errors, exc, gettext, PAYOUT_LABELS, ["year", "paid_eur"])
        else:
            user.say(N_("The amount paid out has been entered."))
            return RedirectResponse(f"/positions/{position_id}#grants", status_code=303)
    applications = await web.api.fetch("GET", f"{POSITIONS}/{position_id}/extension-applications", _token(user))
    return await _position_page(request, web, user, position, applications, values, errors, status_code=422)


@router.post("/positions/{position_id}/applications/{application_id}/withdraw")
async def withdraw(request: Request, position_id: str, application_id: str, web: Web, user: User) -> Response:
    """Withdraw an application the state has not decided yet."""
    await _position(request, web, user, position_id)
    try:
        await web.api.fetch("POST", f"{APPLICATIONS}/{ident(application_id)}/withdraw", _token(user))
    except ApiError as exc:
        if exc.status != 409:
            raise
        user.say(N_("The application has already been decided or withdrawn."))
    else:
        user.say(N_("The application has been withdrawn. The state is told."))
    return RedirectResponse(f"/positions/{position_id}#applications", status_code=303)


@router.get("/positions/{position_id}/applications/{application_id}/letter.pdf")
async def letter(position_id: str, application_id: str, web: Web, user: User) -> Response:
    """The decision letter (PDF) printed on this node when the state's decision arrived."""
    answer = await web.api.call("GET", f"{APPLICATIONS}/{ident(application_id)}/letter.pdf", _token(user))
    if answer.status_code != 200:
        checked(answer)  # raises the matching refusal (404 for a missing letter)
    return Response(answer.content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="bescheid-{ident(application_id)}.pdf"'})


def _form_page(request: Request, position: dict[str, Any], values: dict[str, str], errors: FormErrors,
               status_code: int = 200) -> Any:
    kinds = [(code, text) for code, text in options("extension_kind", gettext_for(request).gettext) if code in KINDS]
    return page(request, "lead/extension.html", status_code=status_code, position=position, values=values,
                errors=errors, kinds=kinds, limits=JUSTIFICATION)


@router.get("/positions/{position_id}/extension")
async def extension_form(request: Request, position_id: str, web: Web, user: User) -> Response:
    """The form to apply to the state for an extension of the position."""
    position = await _position(request, web, user, position_id)
    return await _form_page(request, position, {"kind": KINDS[0]}, FormErrors())


def check_justification(errors: FormErrors, value: str, gettext: Any) -> None:
    """An application's justification: given, and as long as the API allows (after trimming)."""
    shortest, longest = JUSTIFICATION
    if not value:
        errors.add("justification", gettext("Enter the justification"))
    elif len(value) < shortest:
        errors.add("justification", gettext("The justification must have at least %(num)d characters") % {
            "num": shortest})
    elif len(value) > longest:
        errors.add("justification", gettext("The justification must have at most %(num)d characters") % {
            "num": longest})


def _check(values: dict[str, str], position: dict[str, Any], gettext: Any) -> tuple[FormErrors, dict[str, Any]]:
    """The form's errors in the page's language, and the API's body when there are none."""
    errors = FormErrors()
    if values["kind"] not in KINDS:
        errors.add("kind", gettext("Choose what you apply for"))
    check_justification(errors, values["justification"], gettext)
    body: dict[str, Any] = {"kind": values["kind"], "justification": values["justification"]}
    if values["kind"] != "interruption_12_months":
        return errors, body  # dates typed before choosing 24 months are not sent
    days = {}
    for name in ("interruption_from", "interruption_to"):
        days[name] = parse_date(values[name])
        if days[name] is None:
            errors.add(name, gettext("Enter the date as a date, for example 01.03.2026"))
    start, end = days["interruption_from"], days["interruption_to"]
    if start is not None and start.isoformat() < position["starts_on"]:
        errors.add("interruption_from", gettext("The interruption cannot start before the position's term (%(day)s)")
                   % {"day": format_date(position["starts_on"])})
    if start is not None and end is not None and end <= start:
        errors.add("interruption_to", gettext("The interruption must end after it starts"))
    if end is not None and end.isoformat() > position["ends_on"]:
        errors.add("interruption_to", gettext("The interruption cannot end after the position's term (%(day)s)")
                   % {"day": format_date(position["ends_on"])})
    body.update({name: day.isoformat() if day else None for name, day in days.items()})
    return errors, body


def _refusal(position: dict[str, Any], gettext: Any) -> str:
    """Why the API refused (409), in the page's language."""
    if position["ended"]:
        return str(gettext("The position's term has ended: it can no longer be extended."))
    if position["open_application_id"]:
        return str(gettext("The position already has an application waiting for the state's decision."))
    return str(gettext("The position cannot be extended in its current status."))


@router.post("/positions/{position_id}/extension")
async def apply(request: Request, position_id: str, web: Web, user: User) -> Response:
    """Send the application to the state; its refusals show at the fields they name."""
    position = await _position(request, web, user, position_id)
    form = await request.form()
    values = {name: text(form, name) for name in FIELDS}
    gettext = gettext_for(request).gettext
    errors, body = _check(values, position, gettext)
    if not errors:
        try:
            await web.api.fetch("POST", f"{POSITIONS}/{position_id}/extension-applications", _token(user), json=body)
        except ApiError as exc:
            if exc.status == 409:
                position = await _position(request, web, user, position_id)
                errors.add("", _refusal(position, gettext))
            elif exc.status == 422:
                add_api_errors(errors, exc, gettext, LABELS, FIELDS)
            else:
                raise
        else:
            user.say(N_("Your application has been sent to the state. Its decision will reach your inbox."))
            return RedirectResponse(f"/positions/{position_id}#applications", status_code=303)
    return await _form_page(request, position, values, errors, status_code=422)
