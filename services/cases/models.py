"""Tables and API schemas of the cases service: case files, consultations and the audit trail."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy import DDL, JSON, Column, Index, String, event
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import CloseReason, Mode, Topic
from shared.fields import Ags, IsoDate

NAME_MAX = 100
NOTE_MAX = 4000
EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST_CONSULTATION = date(2000, 1, 1)


class CaseStatus(StrEnum):
    """Whether consultations can still be recorded in a case file."""

    open = "open"
    closed = "closed"


class AuditAction(StrEnum):
    """What an audited access to a case file did."""

    open = "open"
    read = "read"
    list = "list"
    record_consultation = "record_consultation"
    read_consultations = "read_consultations"
    close = "close"
    read_audit = "read_audit"


class Case(SQLModel, table=True):
    """A client's case file (Fallakte); the personal data never leaves this table."""

    __tablename__ = "cases_case"
    __table_args__ = (Index("ix_cases_case_visible", "tenant", "manager", "id"),)

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(index=True, max_length=8)
    manager: str = Field(max_length=255)  # the sub of the manager whose caseload it is in
    status: CaseStatus = Field(sa_type=String(10))
    given_name: str = Field(max_length=NAME_MAX)
    family_name: str = Field(max_length=NAME_MAX)
    birth_date: date
    nationality: str = Field(max_length=3)
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    household_size: int
    accommodation_since: date
    opened_on: date
    closed_on: date | None = None
    close_reason: CloseReason | None = Field(default=None, sa_type=String(20))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Consultation(SQLModel, table=True):
    """A consultation held with the client; its note stays here, only codes go on the bus."""

    __tablename__ = "cases_consultation"

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26, foreign_key="cases_case.id")
    held_on: date
    duration_minutes: int
    mode: Mode = Field(sa_type=String(10))
    topics: list[Topic] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    recorded_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """One read or write of a case file: who, when, what. Append-only, enforced by the database."""

    __tablename__ = "cases_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=255)
    action: AuditAction = Field(sa_type=String(30))
    case_id: str = Field(index=True, max_length=26)
    tenant: str = Field(max_length=8)
    detail: str | None = Field(default=None, max_length=100)  # a consultation id, a close reason


TABLES = [Case.__table__, Consultation.__table__, AuditEntry.__table__]  # type: ignore[attr-defined]

# The audit trail refuses UPDATE and DELETE in the database itself, not only in this code.
_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_REFUSAL = "cases_audit is append-only"
for _op in ("UPDATE", "DELETE"):
    event.listen(_AUDIT, "after_create", DDL(
        f"CREATE TRIGGER IF NOT EXISTS cases_audit_no_{_op.lower()} BEFORE {_op} ON cases_audit "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END").execute_if(dialect="sqlite"))
for _ddl in (
    "CREATE OR REPLACE FUNCTION cases_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
    "CREATE TRIGGER cases_audit_no_change BEFORE UPDATE OR DELETE ON cases_audit "
    "FOR EACH ROW EXECUTE FUNCTION cases_audit_append_only()",
    "CREATE TRIGGER cases_audit_no_truncate BEFORE TRUNCATE ON cases_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION cases_audit_append_only()",
):
    event.listen(_AUDIT, "after_create", DDL(_ddl).execute_if(dialect="postgresql"))


# -- validators -------------------------------------------------------------------------------
T = TypeVar("T")


def _not_future(value: date) -> date:
    if value > date.today():
        raise ValueError("must not be in the future")
    return value


def _printable(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _matching(pattern: str, reason: str) -> Callable[[str], str]:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(reason)
        return value

    return check


def _unique(what: str) -> Callable[[list[T]], list[T]]:
    def check(values: list[T]) -> list[T]:
        if len(set(values)) != len(values):
            raise ValueError(f"must not name a {what} twice")
        return values

    return check


PastDate = Annotated[IsoDate, AfterValidator(_not_future)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    pydantic.Field(strict=True), AfterValidator(_printable),
]
Nationality = Annotated[str, pydantic.Field(strict=True, max_length=3), AfterValidator(_matching(
    "[A-Z]{3}", "must be an ISO 3166-1 alpha-3 code (3 capital letters), or XXX if unknown"))]
Language = Annotated[str, pydantic.Field(strict=True, max_length=3), AfterValidator(_matching(
    "[a-z]{2,3}", "must be an ISO 639 language code (2 or 3 small letters)"))]


# -- API schemas ------------------------------------------------------------------------------
class CaseCreate(BaseModel):
    """Body of POST /cases."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name
    family_name: Name
    birth_date: Annotated[PastDate, pydantic.Field(gt=EARLIEST_BIRTH)]
    nationality: Nationality
    languages: Annotated[list[Language], pydantic.Field(max_length=10),
                         AfterValidator(_unique("language"))]
    household_size: int = pydantic.Field(strict=True, ge=1, le=30)
    accommodation_since: PastDate
    tenant: Ags | None = None

    @pydantic.field_validator("accommodation_since")
    @classmethod
    def _after_birth(cls, value: date, info: pydantic.ValidationInfo) -> date:
        born = info.data.get("birth_date")
        if born is not None and value < born:
            raise ValueError("must not be before birth_date")
        return value


class ConsultationCreate(BaseModel):
    """Body of POST /cases/{id}/consultations."""

    model_config = ConfigDict(extra="forbid")

    held_on: Annotated[PastDate, pydantic.Field(ge=EARLIEST_CONSULTATION)]
    duration_minutes: int = pydantic.Field(strict=True, ge=1, le=600)
    mode: Mode
    topics: Annotated[list[Topic], pydantic.Field(min_length=1, max_length=10),
                      AfterValidator(_unique("topic"))]
    note: str | None = pydantic.Field(default=None, strict=True, max_length=NOTE_MAX)


class CaseClose(BaseModel):
    """Body of POST /cases/{id}/close."""

    model_config = ConfigDict(extra="forbid")

    reason: CloseReason


class CasePublic(BaseModel):
    """A case file as the API shows it to whoever may see it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant: str
    status: CaseStatus
    manager: str
    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    languages: list[str]
    household_size: int
    accommodation_since: date
    opened_on: date
    closed_on: date | None
    close_reason: CloseReason | None
    created_at: datetime
    updated_at: datetime


class CasePage(BaseModel):
    """A page of cases, oldest first; `next_cursor` is passed as `cursor` for the next page."""

    items: list[CasePublic]
    next_cursor: str | None


class ConsultationPublic(BaseModel):
    """A consultation as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    held_on: date
    duration_minutes: int
    mode: Mode
    topics: list[Topic]
    note: str | None
    recorded_by: str
    created_at: datetime


class AuditEntryPublic(BaseModel):
    """One row of a case's audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: AuditAction
    case_id: str
    tenant: str
    detail: str | None


class AuditPage(BaseModel):
    """A page of a case's audit trail, oldest first."""

    items: list[AuditEntryPublic]
    next_cursor: int | None
