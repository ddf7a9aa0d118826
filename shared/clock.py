"""The programme's calendar: days are days in Baden-Württemberg, whatever zone the machine's clock is set to.

A node's machine may run on UTC (containers usually do); a goal achieved at 00:30 in Stuttgart was achieved on
that day, not on the day before. Whatever compares an event's day with "today" takes both from here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Berlin")


def today() -> date:
    """The current calendar day in Baden-Württemberg."""
    return datetime.now(ZONE).date()


def day_of(moment: datetime) -> date:
    """The calendar day in Baden-Württemberg of a moment with a zone (an event's occurred_at)."""
    return moment.astimezone(ZONE).date()
