"""Record ids: ULIDs, time-ordered so keyset pagination follows creation order."""

from __future__ import annotations

from ulid import ULID

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


def new_id() -> str:
    """A time-ordered id for a new record."""
    return str(ULID())
