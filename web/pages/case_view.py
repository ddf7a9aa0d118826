"""A case page's parts (case, consultations, plan), fetched from the API together."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request

from shared import clock
from shared.ids import ULID_PATTERN
from web.client import ApiError, Missing, together
from web.deps import WebState
from web.forms import FormErrors, add_api_errors
from web.labels import options
from web.render import format_date, gettext_for
from web.session import WebSession

ULID = re.compile(ULID_PATTERN)
CASES = "/api/cases/v1/cases"
PLANS = "/api/plans/v1/plans"
CASELOADS = "/api/cases/v1/caseloads"


def ident(value: str) -> str:
    """An id from a page's path; anything that is no id is as missing as an unknown one."""
    if not ULID.match(value):
        raise Missing(404, "not found")
    return value


async def submitted(web: WebState, user: WebSession, method: str, path: str, body: dict[str, Any],
                    errors: FormErrors, gettext: Callable[[str], str], labels: dict[str, str],
                    order: list[str]) -> Any:
    """The API's answer to a form's request; None when it refused (409/422): its reasons are in `errors`."""
    assert user.token is not None
    try:
        return await web.api.fetch(method, path, user.token, json=body)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        add_api_errors(errors, exc, gettext, labels, order)
        return None


def choice_lists(request: Request) -> dict[str, Any]:
    """The translated codes the case page's forms offer."""
    gettext = gettext_for(request).gettext
    return {"modes": options("mode", gettext), "topics": options("topic", gettext),
            "goal_statuses": options("goal_status", gettext), "purposes": options("consent_purpose", gettext),
            "consent_forms": options("consent_form", gettext), "sheet_languages": options("plan_language", gettext),
            "close_reasons": options("close_reason", gettext)}


async def plan_of(web: WebState, user: WebSession, case_id: str) -> Any:
    """The case's plan, or None while the plans service has not made it yet."""
    assert user.token is not None
    try:
        return await web.api.fetch("GET", PLANS, user.token, params={"case_id": case_id})
    except Missing:
        return None


async def _none() -> list[Any]:
    return []


async def case_view(request: Request, web: WebState, user: WebSession, case_id: str,
                    **parts: Any) -> dict[str, Any]:
    """Everything the case page shows; `parts` replace what a form just changed (values, errors)."""
    assert user.token is not None
    # The reads at once: each is a read-only transaction of its own, none waits for another (shared/http.py).
    case, consultations, plan, privacy, managers = await together(
        web.api.fetch("GET", f"{CASES}/{ident(case_id)}", user.token),
        web.api.fetch("GET", f"{CASES}/{case_id}/consultations", user.token),
        plan_of(web, user, case_id),
        web.api.fetch("GET", f"{CASES}/{case_id}/consents", user.token),  # information, consents
        # The lead's hand-over form suggests the managers who hold cases here (counts only, not audited per case).
        web.api.fetch("GET", CASELOADS, user.token) if user.has("lead") else _none())
    view: dict[str, Any] = {
        "case": case, "consultations": list(reversed(consultations)), "plan": plan, "attempt": 0,
        "c_errors": FormErrors(), "c_values": {"held_on": format_date(clock.today())},
        "g_errors": FormErrors(), "g_values": {}, "x_errors": FormErrors(), "x_values": {},
        "r_errors": FormErrors(), "r_values": {}, "managers": managers,
        "privacy": privacy, "i_errors": FormErrors(), "i_values": {"handed_on": format_date(clock.today())},
        "k_errors": FormErrors(), "k_values": {"given_on": format_date(clock.today())},
        "z_errors": FormErrors(), "z_values": {},
        **choice_lists(request)}
    view.update(parts)
    return view
