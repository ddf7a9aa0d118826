"""Tables and API schemas of the cases service: case files, consultations and the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from shared import clock
from shared.db import append_only
from shared.events import utcnow
from shared.events.codes import CloseReason, Eligibility, Mode, Relation, Topic
from shared.fields import Ags
from shared.ids import new_id
from shared.privacy import (
    ACCESS_LOG,
    AGS_CODE,
    CODE,
    ID,
    PROCESS_DATE,
    TIMESTAMP,
    DataClass,
    Personal,
    Retention,
    mark,
    personal,
)
from shared.sealing import SealedText, sealed

from .fields import Language, Name, Nationality, PastDate, unique

NOTE_MAX = 4000
JUSTIFICATION_MAX = 1000
SEARCH_MAX = 100
EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST_CONSULTATION = date(2000, 1, 1)
COUNSELLING = "counselling the client (LAufnG/FlüAG integration management)"
ELIGIBILITY = "proving the client's eligibility for the programme"


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
    extend_counselling = "extend_counselling"
    change = "change"
    reassign = "reassign"
    search = "search"
    record_information = "record_information"
    record_consent = "record_consent"
    withdraw_consent = "withdraw_consent"
    read_consents = "read_consents"
    break_glass = "break_glass"
    export = "export"
    erase = "erase"
    handover = "handover"  # handed over to another municipality (services/cases/handover.py)
    handover_answered = "handover_answered"  # the receiving municipality's answer arrived
    handover_accepted = "handover_accepted"  # opened here from another municipality's hand-over


@sealed
class Case(SQLModel, table=True):
    """A client's case file (Fallakte); the personal data never leaves this table, sealed with the case's key."""

    __tablename__ = "cases_case"
    __subject__ = "id"
    __table_args__ = (Index("ix_cases_case_visible", "tenant", "manager", "id"),)
    __not_personal__ = {
        "id": ID, "tenant": AGS_CODE, "status": CODE, "eligibility": CODE, "close_reason": CODE,
        "opened_on": PROCESS_DATE, "first_consultation_on": PROCESS_DATE, "counselling_ends_on": PROCESS_DATE,
        "counselling_extended_on": PROCESS_DATE, "closed_on": PROCESS_DATE, "erased_on": PROCESS_DATE,
        "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
    }

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(index=True, max_length=8)
    # the sub of the manager whose caseload it is in
    manager: str = personal(DataClass.staff, "whose caseload the case is in", Retention.staff, max_length=255)
    status: CaseStatus = Field(sa_type=String(10))
    given_name: str = personal(DataClass.identity, COUNSELLING, encrypted=True, sa_type=SealedText())
    family_name: str = personal(DataClass.identity, COUNSELLING, encrypted=True, sa_type=SealedText())
    birth_date: date = personal(DataClass.identity, COUNSELLING, encrypted=True, sa_type=SealedText("date"))
    nationality: str = personal(DataClass.origin, COUNSELLING, encrypted=True, sa_type=SealedText())
    languages: list[str] = Field(default_factory=list, sa_column=mark(
        Column(JSON, nullable=False), Personal(DataClass.origin, "counselling in a language the client speaks",
                                               Retention.case, encrypted=True)))
    household_size: int
    # Household members counselled alongside: [{relation, birth_year}], never a name.
    household_members: list[dict[str, Any]] = Field(default_factory=list, sa_column=mark(
        Column(JSON, nullable=False), Personal(DataClass.circumstances, "counting who is counselled alongside",
                                               Retention.case)))
    eligibility: Eligibility = Field(sa_type=String(30))
    eligible_since: date = personal(DataClass.circumstances, ELIGIBILITY, encrypted=True, sa_type=SealedText("date"))
    # required for follow-up accommodation only
    accommodation_since: date | None = personal(DataClass.circumstances, ELIGIBILITY, default=None, encrypted=True,
                                                sa_type=SealedText("date"))
    opened_on: date
    # The counselling clock: three years from the first consultation, four once extended.
    first_consultation_on: date | None = None
    counselling_ends_on: date | None = None
    counselling_extended_on: date | None = None
    extension_justification: str | None = personal(DataClass.case_content, "the lead's reason for a fourth year",
                                                   default=None, encrypted=True, sa_type=SealedText())
    closed_on: date | None = None
    close_reason: CloseReason | None = Field(default=None, sa_type=String(20))
    erased_on: date | None = None  # its personal data erased (services/cases/erasure.py): served no more
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


@sealed
class Consultation(SQLModel, table=True):
    """A consultation held with the client; its note stays here (sealed), only codes go on the bus."""

    __tablename__ = "cases_consultation"
    __subject__ = "case_id"
    __not_personal__ = {"id": ID, "case_id": ID, "held_on": PROCESS_DATE, "mode": CODE, "topics": CODE,
                        "created_at": TIMESTAMP}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26, foreign_key="cases_case.id")
    held_on: date
    duration_minutes: int
    mode: Mode = Field(sa_type=String(10))
    topics: list[Topic] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = personal(DataClass.case_content, COUNSELLING, default=None, encrypted=True,
                                sa_type=SealedText())
    recorded_by: str = personal(DataClass.staff, "who recorded the consultation", Retention.staff, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """One read or write of a case file: who, when, what. Append-only, enforced by the database."""

    __tablename__ = "cases_audit"
    __not_personal__ = {"action": CODE, "case_id": ID, "tenant": AGS_CODE, "break_glass": ID}

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = personal(DataClass.access_log, ACCESS_LOG, Retention.access_log, default_factory=utcnow)
    actor: str = personal(DataClass.staff, ACCESS_LOG, Retention.access_log, max_length=255)
    action: AuditAction = Field(sa_type=String(30))
    case_id: str = Field(index=True, max_length=26)
    tenant: str = Field(max_length=8)
    # a consultation id, a close reason, the names of changed fields: never their values
    detail: str | None = personal(DataClass.access_log, ACCESS_LOG, Retention.access_log, default=None,
                                  max_length=100)
    # the stand-in's break-glass grant this access was made under (services/cases/break_glass.py)
    break_glass: str | None = Field(default=None, max_length=26)


@sealed
class SearchEntry(SQLModel, table=True):
    """One search for a case by name or birth date: who, when, the term, how many were shown. Append-only.

    The term is personal data: it is kept here, in the audit, and never in an event or a log line. It is sealed
    with a key of its own (`subject`), destroyed when a case it found is erased.
    """

    __tablename__ = "cases_search"
    __subject__ = "subject"
    __not_personal__ = {"tenants": AGS_CODE, "subject": ID}

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = personal(DataClass.access_log, ACCESS_LOG, Retention.access_log, default_factory=utcnow)
    actor: str = personal(DataClass.staff, ACCESS_LOG, Retention.access_log, max_length=255)
    tenants: str = Field(max_length=255)  # the municipalities searched (AGS, comma-separated)
    term: str = personal(DataClass.identity, "proof of who searched for whom", Retention.access_log,
                         encrypted=True, sa_type=SealedText())
    found: int  # cases shown on the page this search answered
    subject: str = Field(default_factory=new_id, max_length=26)  # the term's key in the key store


class ErasurePermit(SQLModel, table=True):
    """Exists only inside an erasure's transaction: the append-only triggers admit that transaction's changes."""

    __tablename__ = "cases_erasure_permit"

    id: int | None = Field(default=None, primary_key=True)


TABLES = [Case.__table__, Consultation.__table__, AuditEntry.__table__,  # type: ignore[attr-defined]
          SearchEntry.__table__, ErasurePermit.__table__]  # type: ignore[attr-defined]


# Append-only, except for an erasure (its permit: services/cases/erasure.py; migration 0006 does the same).
append_only(AuditEntry.__table__, permit=ErasurePermit.__tablename__)  # type: ignore[attr-defined]
append_only(SearchEntry.__table__, permit=ErasurePermit.__tablename__)  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class HouseholdMember(BaseModel):
    """A household member counselled alongside the client: the relation and a birth year, no name."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    relation: Relation
    birth_year: int | None = pydantic.Field(default=None, strict=True, ge=EARLIEST_BIRTH.year,
                                            le=clock.today().year)


class CaseCreate(BaseModel):
    """Body of POST /cases; without `eligibility` the client is in follow-up accommodation (v1)."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name
    family_name: Name
    birth_date: Annotated[PastDate, pydantic.Field(gt=EARLIEST_BIRTH)]
    nationality: Nationality
    languages: Annotated[list[Language], pydantic.Field(max_length=10, json_schema_extra={"uniqueItems": True}),
                         AfterValidator(unique("language"))]
    household_size: int = pydantic.Field(strict=True, ge=1, le=30)
    household_members: list[HouseholdMember] = pydantic.Field(default_factory=list, max_length=29)
    eligibility: Eligibility = Eligibility.follow_up_accommodation
    eligible_since: PastDate | None = None
    accommodation_since: PastDate | None = None
    tenant: Ags | None = None

    @pydantic.field_validator("accommodation_since", "eligible_since")
    @classmethod
    def _after_birth(cls, value: date | None, info: pydantic.ValidationInfo) -> date | None:
        born = info.data.get("birth_date")
        if value is not None and born is not None and value < born:
            raise ValueError("must not be before birth_date")
        return value


class ConsultationCreate(BaseModel):
    """Body of POST /cases/{id}/consultations."""

    model_config = ConfigDict(extra="forbid")

    held_on: Annotated[PastDate, pydantic.Field(ge=EARLIEST_CONSULTATION)]
    duration_minutes: int = pydantic.Field(strict=True, ge=1, le=600)
    mode: Mode
    topics: Annotated[list[Topic], pydantic.Field(min_length=1, max_length=10, json_schema_extra={"uniqueItems": True}),
                      AfterValidator(unique("topic"))]
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
    household_members: list[HouseholdMember]
    eligibility: Eligibility
    eligible_since: date
    accommodation_since: date | None
    opened_on: date
    first_consultation_on: date | None
    counselling_ends_on: date | None
    counselling_extended_on: date | None
    extension_justification: str | None
    closed_on: date | None
    close_reason: CloseReason | None
    created_at: datetime
    updated_at: datetime


class Caseload(BaseModel):
    """How many cases a manager holds, for the lead."""

    manager: str
    open_cases: int
    closed_cases: int


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
    break_glass: str | None = None  # the break-glass grant this access was made under


class AuditPage(BaseModel):
    """A page of a case's audit trail, oldest first."""

    items: list[AuditEntryPublic]
    next_cursor: int | None
