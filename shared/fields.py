"""Field types every service's schemas share: ISO dates, AGS codes."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import pydantic
from pydantic import BeforeValidator

AGS_PATTERN = r"^\d{8}$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date_only(value: Any) -> Any:
    """Dates travel as ISO strings (YYYY-MM-DD); a number is not silently read as a Unix timestamp."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be an ISO date (YYYY-MM-DD)")


IsoDate = Annotated[date, BeforeValidator(iso_date_only)]
Ags = Annotated[str, pydantic.Field(min_length=8, max_length=8, pattern=AGS_PATTERN)]
