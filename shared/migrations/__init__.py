"""Alembic migrations: one history (and version table) per service level, run through Alembic's API.

Only the error type loads with the package: the histories import every service (and Alembic), which a
CLI command that does not touch a schema should not pay for at start.
"""

from typing import Any

from .errors import MigrationError

_LAZY = {
    "History": "history", "all_histories": "history", "history_for": "history", "history_of": "history",
    "Status": "runner", "Upgraded": "runner", "differences": "runner", "ensure_current": "runner",
    "head_of": "runner", "prepare": "runner", "revision": "runner", "status": "runner", "upgrade": "runner",
}

__all__ = ["MigrationError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
