"""The programme's terms both levels apply: ten-year positions, 24-month extensions, bounded reasons."""

from __future__ import annotations

import calendar
from datetime import date

MAX_TERM_MONTHS = 120  # a position is registered for at most ten years
EXTENSION_MONTHS = 24  # an approved extension moves the end of the term by two years
REASON_MAX = 2000  # a justification or a decision's reason (as ExtensionDecided.reason)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier if negative), clamped to the end of a shorter month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))
