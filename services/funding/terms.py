"""The programme's terms both levels apply: five-year approvals, FTE steps, extensions by kind, bounded texts."""

from __future__ import annotations

import calendar
from datetime import date

from shared.events.codes import PositionStatus
from shared.events.funding import ExtensionKind

MAX_TERM_MONTHS = 60  # an approval runs at most five years
FTE_MIN, FTE_MAX, FTE_STEP = 0.25, 1.0, 0.05  # positions may be split, no part below a quarter
EXTENSION_MONTHS = 24  # an approved extension moves the end of the term by two years
# How far an approval moves the end of the term, by the kind of application.
MONTHS_BY_KIND = {ExtensionKind.extension_24_months: EXTENSION_MONTHS, ExtensionKind.interruption_12_months: 12}
# The statuses that hold a grant and count as positions; a new position applied for, refused or withdrawn does not.
FUNDED = frozenset({PositionStatus.approved, PositionStatus.occupied, PositionStatus.vacant})
REASON_MAX = 2000  # a decision's reason (as ExtensionDecided.reason)
JUSTIFICATION_MIN = 20  # a justification says something: more than "bitte verlängern"


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier if negative), clamped to the end of a shorter month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def control_free(value: str) -> str:
    """Free text may hold line breaks and tabs, never other control characters (NUL breaks PostgreSQL)."""
    if any((ord(c) < 32 and c not in "\n\r\t") or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end`: the inverse of add_months for the dates it returns."""
    return (end.year - start.year) * 12 + end.month - start.month


def months_asked(*, kind: ExtensionKind, current_ends_on: date, requested_ends_on: date) -> int:
    """The months an application asks for: fixed by an extension's kind, chosen for a new position."""
    if kind == ExtensionKind.new_position:
        return months_between(current_ends_on, requested_ends_on)
    return MONTHS_BY_KIND[kind]
