"""The register of personal data: every text or date column says what it holds, why, and how long it stays.

A column holding personal data is declared with `personal(...)` (a SQLModel Field) or `mark(Column, ...)`;
one that holds none says why with `not_personal(...)`. A model may instead declare its columns at
class level: `__personal__ = {column: Personal(...)}` and `__not_personal__ = {column: why}`.
docs/data-protection.md (the record of processing and the deletion concept) is generated from these
marks, and a test refuses an unmarked column.
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
    funding = "funding"  # the grant's files: kept for the audit of the use of funds, then erased
    delivery = "delivery"  # published events: LOTSE_OUTBOX_RETENTION_S (republished after a bus data loss)


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

# Reasons shared by many columns that hold no personal data.
ID = "a random id (ULID) or sequence: a reference, personal only through the row's personal columns"
AGS_CODE = "official municipality key (AGS): names a municipality, not a person"
CODE = "a code from a fixed list (status, reason, topic, mode, area): no person in it"
PROCESS_DATE = "a date of the procedure, kept for the programme's statistics after the person's data is erased"
TIMESTAMP = "a technical timestamp of the row"
NODE_ID = "the id of a Lotse node: names a municipality's installation, not a person"
PSEUDONYM = "the sending node's keyed pseudonym of a case: the state cannot link it to a person"
AMOUNT = "an amount or a figure of the programme, no person in it"
ACCESS_LOG = "proving who accessed a case file, when and what (SGB X §67b, Art. 5(2) GDPR)"


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
