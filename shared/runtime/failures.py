"""Failures an operator can cause or meet, as one line naming the cause and the setting to look at."""

from __future__ import annotations

import re

from shared.settings import SettingsError, redact


class OperatorError(Exception):
    """A failure the operator can fix; its message is one line, its code the process's exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def first_line(exc: BaseException) -> str:
    """The exception's message on one line, passwords in URLs masked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(re.sub(r"^\(\S+\)\s*", "", text))  # drop SQLAlchemy's "(psycopg.OperationalError)"


def unreachable(setting: str, url: str, exc: BaseException) -> OperatorError:
    """`LOTSE_REDIS_URL: cannot use redis://…: <why>` (the password masked)."""
    return OperatorError(f"{setting}: cannot use {redact(url)}: {_why(exc)}")


def _why(exc: BaseException) -> str:
    from redis.exceptions import AuthenticationError, ResponseError

    text = first_line(getattr(exc, "orig", None) or exc)
    if isinstance(exc, AuthenticationError) or (isinstance(exc, ResponseError) and "WRONGPASS" in str(exc)):
        return f"wrong user name or password ({text})"
    return text[:300]


def describe(exc: BaseException) -> tuple[str, int]:
    """Any exception at the CLI boundary as (one line, exit code); --debug shows the traceback instead."""
    from redis.exceptions import AuthenticationError, RedisError
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OperatorError):
        return str(exc), exc.code
    if isinstance(exc, SettingsError):
        return str(exc), 2
    from shared.migrations.errors import MigrationError

    if isinstance(exc, MigrationError):
        return str(exc), 1
    if isinstance(exc, AuthenticationError):
        return f"LOTSE_REDIS_URL: Redis refused the credentials ({first_line(exc)})", 1
    if isinstance(exc, RedisError):
        return f"LOTSE_REDIS_URL: Redis failed: {first_line(exc)}", 1
    if isinstance(exc, DBAPIError):
        return f"LOTSE_DATABASE_URL: the database failed: {_why(exc)}", 1
    if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return f"{exc.strerror or first_line(exc)}: {exc.filename} (check LOTSE_DATA_DIR)", 1
    if isinstance(exc, OSError):
        return first_line(exc), 1
    return f"unexpected {type(exc).__name__}: {first_line(exc)} (run with --debug for the traceback)", 1
