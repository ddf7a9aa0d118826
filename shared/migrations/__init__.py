"""Alembic migrations: one history (and version table) per service level, run through Alembic's API."""

from .errors import MigrationError
from .history import History, all_histories, history_for, history_of
from .runner import Status, Upgraded, differences, ensure_current, head_of, prepare, revision, status, upgrade

__all__ = ["History", "MigrationError", "Status", "Upgraded", "all_histories", "differences", "ensure_current",
           "head_of", "history_for", "history_of", "prepare", "revision", "status", "upgrade"]
