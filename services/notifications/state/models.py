"""The state level's tables: the inbox and its mail only (no goal watches: plans stay municipal)."""

from __future__ import annotations

from ..models import INBOX_TABLES

TABLES = list(INBOX_TABLES)
