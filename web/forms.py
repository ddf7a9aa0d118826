"""Form input as people type it (31.12.2026, " 3 "), and errors as the GOV.UK error summary shows them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from web.client import ApiError
from web.i18n import N_

GERMAN_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")
ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
# Reasons the API gives, so they reach the catalogue; pydantic's own read as they come.
API_REASONS = (
    N_("must not be in the future"), N_("must not be before birth_date"),
    N_("must be an ISO 3166-1 alpha-3 code (3 capital letters), or XXX if unknown"),
    N_("must be an ISO 639 language code (2 or 3 small letters)"),
    N_("must not name a language twice"), N_("must not name a topic twice"),
    N_("not a tenant the caller may act for"), N_("must not contain control characters"),
    N_("Field required"), N_("must not be before from"),
)
# pydantic's messages that our forms can still meet, with the number they name.
PYDANTIC = [
    (re.compile(r"String should have at most (\d+) characters?"), N_("must have at most %(n)s characters")),
    (re.compile(r"String should have at least (\d+) characters?"), N_("must have at least %(n)s characters")),
    (re.compile(r"Input should be less than or equal to (\d+)"), N_("must be at most %(n)s")),
    (re.compile(r"Input should be greater than or equal to (\d+)"), N_("must be at least %(n)s")),
    (re.compile(r"Input should be greater than (\S+)"), N_("must be after %(n)s")),
    (re.compile(r"List should have at most (\d+) items?.*"), N_("must name at most %(n)s")),
]


@dataclass
class FormErrors:
    """Errors by field in the order of the form; a message is already in the page's language."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        if not name or name not in self.fields():  # the first error of a field is the one shown
            self.items.append((name, message))

    def fields(self) -> list[str]:
        return [name for name, _ in self.items]

    def of(self, name: str) -> str | None:
        return next((message for n, message in self.items if n == name), None)

    def __bool__(self) -> bool:
        return bool(self.items)


def parse_date(text: str) -> date | None:
    """A date typed as 31.12.2026 (or 2026-12-31); None when it is no date."""
    for pattern, order in ((GERMAN_DATE, (3, 2, 1)), (ISO_DATE, (1, 2, 3))):
        if match := pattern.match(text):
            try:
                return date(*(int(match.group(i)) for i in order))
            except ValueError:
                return None
    return None


def parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[0-9]{1,6}", text) else None


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def reason_text(reason: str, gettext: Callable[[str], str]) -> str:
    """An API reason in the page's language: ours from the catalogue, pydantic's by their pattern."""
    reason = reason.removeprefix("Value error, ")
    for pattern, message in PYDANTIC:
        if match := pattern.fullmatch(reason):
            return gettext(message) % {"n": match.group(1)}
    return gettext(reason)


def add_api_errors(errors: FormErrors, exc: ApiError, gettext: Callable[[str], str],
                   labels: dict[str, str], order: list[str]) -> None:
    """The API's 422 `{detail: [{field, reason}]}` (or a 409's reason) at the fields they name."""
    details = exc.detail if isinstance(exc.detail, list) else [{"field": "", "reason": str(exc.detail)}]
    found: list[tuple[str, str]] = []
    for item in details:
        name = str(item.get("field", "")).split(".")[0] if isinstance(item, dict) else ""
        reason = reason_text(str(item.get("reason", "")), gettext) if isinstance(item, dict) else str(item)
        if name in labels:
            found.append((name, f"{gettext(labels[name])}: {reason}"))
        else:
            found.append(("", reason))
    for name, message in sorted(found, key=lambda f: order.index(f[0]) if f[0] in order else len(order)):
        errors.add(name, message)
