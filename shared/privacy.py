"""The register of personal data: every text or date column says what it holds, why, and how long it stays.

A column holding personal data is declared with `personal(...)` (a SQLModel Field) or `mark(Column, ...)`;
one that holds none says why with `not_personal(...)`. docs/data-protection.md (the record of processing
and the deletion concept) is generated from these marks, and a test refuses an unmarked column.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

PRIVACY = "privacy"  # the key of the mark in a column's `info`


class DataClass(StrEnum):
    """What kind of personal data a column holds (the record of processing groups by it)."""

    identity = "identity"  # names, birth date: who the client is
    origin = "origin"  # nationality, languages: reveals origin, handled as Art. 9 data
    circumstances = "circumstances"  # accommodation, eligibility, household: the client's situation
    case_content = "case_content"  # notes, goals, steps, agreements: what was discussed and planned
    staff = "staff"  # user ids of managers and leads: employees' data
    access_log = "access_log"  # who read or changed a file, and what
    pseudonym = "pseudonym"  # keyed pseudonyms at the state: personal data only with the node's key


class Retention(StrEnum):
    """How long a datum stays; the periods are the node's settings (docs/data-protection.md)."""

    case = "case"  # with its case: erased LOTSE_RETENTION_CASE_YEARS after closure, or on request (Art. 17)
    access_log = "access_log"  # LOTSE_RETENTION_AUDIT_YEARS, then erased; with its case on erasure
    notification = "notification"  # with the case it is about; read notifications after the case retention
    staff = "staff"  # as long as the user acts on the node's records
    pseudonymous = "pseudonymous"  # aggregated statistics at the state: kept, no person identifiable


@dataclass(frozen=True)
class Personal:
    """A column holding personal data: its class, the purpose it serves, its retention rule."""

    data_class: DataClass
    purpose: str
    retention: Retention
    encrypted: bool = False  # encrypted at rest with the subject's key (crypto-shredding)


@dataclass(frozen=True)
class NotPersonal:
    """A text or date column that holds no personal data, and why."""

    reason: str


Mark = Personal | NotPersonal


def _field(mark: Mark, kwargs: dict[str, Any]) -> Any:
    column_kwargs = dict(kwargs.pop("sa_column_kwargs", None) or {})
    column_kwargs["info"] = {**column_kwargs.get("info", {}), PRIVACY: mark}
    return Field(sa_column_kwargs=column_kwargs, **kwargs)


def personal(data_class: DataClass, purpose: str, retention: Retention = Retention.case, *,
             encrypted: bool = False, **kwargs: Any) -> Any:
    """A SQLModel Field that holds personal data (other arguments as for `Field`)."""
    return _field(Personal(data_class, purpose, retention, encrypted), kwargs)


def not_personal(reason: str, **kwargs: Any) -> Any:
    """A SQLModel Field with text or dates that hold no personal data (other arguments as for `Field`)."""
    return _field(NotPersonal(reason), kwargs)


def mark(column: Column[Any], what: Mark) -> Column[Any]:
    """Mark a hand-made Column (`sa_column=`), e.g. a JSON list of languages."""
    column.info[PRIVACY] = what
    return column


def mark_of(column: Column[Any]) -> Mark | None:
    """A column's mark, or None when it has none."""
    found = column.info.get(PRIVACY)
    return found if isinstance(found, Personal | NotPersonal) else None
