"""Tables and API schemas of the funding service at municipal level: positions and extension applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import Index, LargeBinary, String, text
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import JUSTIFICATION_MAX, ExtensionKind, Qualification
from shared.fields import AGS_PATTERN, IsoDate
from shared.ids import ULID_PATTERN
from shared.privacy import AGS_CODE, CODE, ID, PROCESS_DATE, TIMESTAMP, DataClass, Personal, Retention

from .grants import YearGrant
from .terms import FTE_MAX, FTE_MIN, FTE_STEP, JUSTIFICATION_MIN, MAX_TERM_MONTHS, REASON_MAX, control_free

# A bounded calendar keeps every term and its extensions far from date overflow.
TermDate = Annotated[IsoDate, pydantic.Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class FundingPosition(SQLModel, table=True):
    """A funded integration manager position (Stelle) of one municipality."""

    __tablename__ = "funding_position"
    __not_personal__ = {
        "id": ID, "tenant": AGS_CODE, "qualification": CODE, "starts_on": PROCESS_DATE, "ends_on": PROCESS_DATE,
        "status": CODE, "status_since": PROCESS_DATE, "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
    }
    __personal__ = {"created_by": Personal(DataClass.staff, "who registered the position", Retention.funding)}

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(index=True, max_length=8)
    fte: float
    # Positions registered before qualification levels existed are paid at the vocational rate.
    qualification: Qualification = Field(default=Qualification.vocational, sa_type=String(20),
                                         sa_column_kwargs={"server_default": Qualification.vocational.value})
    starts_on: date
    ends_on: date
    status: PositionStatus = Field(sa_type=String(20))
    status_since: date | None = None  # day of the last occupancy change
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FundingExtensionApplication(SQLModel, table=True):
    """An application to extend a position (24 months, or 12 after an interruption), decided by the state."""

    __tablename__ = "funding_extension_application"
    __not_personal__ = {
        "id": ID, "tenant": AGS_CODE, "position_id": ID, "status": CODE, "kind": CODE, "applied_on": PROCESS_DATE,
        "current_ends_on": PROCESS_DATE, "requested_ends_on": PROCESS_DATE, "interruption_from": PROCESS_DATE,
        "interruption_to": PROCESS_DATE, "decided_on": PROCESS_DATE, "decision_event_id": ID,
        "withdrawn_on": PROCESS_DATE, "created_at": TIMESTAMP,
    }
    __personal__ = {
        "justification": Personal(DataClass.staff, "the municipality's reasons for the state", Retention.funding),
        "applied_by": Personal(DataClass.staff, "who applied", Retention.funding),
        "reason": Personal(DataClass.staff, "the state's reasons for its decision", Retention.funding),
    }
    # At most one open application per position, whatever happens to the application code.
    __table_args__ = (
        Index("ux_funding_application_open", "position_id", unique=True,
              sqlite_where=text("status = 'submitted'"),
              postgresql_where=text("status = 'submitted'")),
    )

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(index=True, max_length=8)
    position_id: str = Field(index=True, max_length=26, foreign_key="funding_position.id")
    status: ApplicationStatus = Field(sa_type=String(20))
    # Rows from before kinds existed asked for 24 months.
    kind: ExtensionKind = Field(default=ExtensionKind.extension_24_months, sa_type=String(30),
                                sa_column_kwargs={"server_default": ExtensionKind.extension_24_months.value})
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    interruption_from: date | None = None  # the salary payments' interruption (12-month kind only)
    interruption_to: date | None = None
    justification: str | None = Field(default=None, max_length=JUSTIFICATION_MAX)  # None: applied before v2
    applied_by: str = Field(max_length=255)
    decided_on: date | None = None
    reason: str | None = Field(default=None, max_length=REASON_MAX)  # the state's reason
    granted_months: int | None = None  # what the state approved (fewer than asked only with a reason)
    decision_event_id: str | None = Field(default=None, max_length=26)
    withdrawn_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class FundingDecisionLetter(SQLModel, table=True):
    """The decision letter (PDF) this node printed when the state's decision arrived."""

    __tablename__ = "funding_decision_letter"
    __not_personal__ = {"application_id": ID, "created_at": TIMESTAMP}

    application_id: str = Field(primary_key=True, max_length=26,
                                foreign_key="funding_extension_application.id")
    pdf: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow)


class FundingOccupancy(SQLModel, table=True):
    """One occupancy change of a position: its history, oldest first."""

    __tablename__ = "funding_occupancy"
    __not_personal__ = {"id": ID, "position_id": ID, "since": PROCESS_DATE, "recorded_at": TIMESTAMP}
    __personal__ = {"recorded_by": Personal(DataClass.staff, "who recorded the occupancy", Retention.funding)}

    id: str = Field(primary_key=True, max_length=26)
    position_id: str = Field(index=True, max_length=26, foreign_key="funding_position.id")
    occupied: bool
    since: date
    recorded_by: str = Field(max_length=255)
    recorded_at: datetime = Field(default_factory=utcnow)


class FundingYearBase(SQLModel):
    """A funding year's budget and fixed amounts per full-time position by qualification level."""

    year: int = Field(primary_key=True)
    budget_eur: int
    rate_vocational_eur: int
    rate_academic_eur: int
    set_at: datetime = Field(default_factory=utcnow)

    def rates(self) -> dict[Qualification, int]:
        return {Qualification.vocational: self.rate_vocational_eur, Qualification.academic: self.rate_academic_eur}


class FundingYear(FundingYearBase, table=True):
    """A municipal node's copy of a funding year, as the state sent it down."""

    __tablename__ = "funding_year"
    __not_personal__ = {"set_at": TIMESTAMP}


TABLES = [FundingPosition.__table__, FundingExtensionApplication.__table__,  # type: ignore[attr-defined]
          FundingOccupancy.__table__, FundingYear.__table__,  # type: ignore[attr-defined]
          FundingDecisionLetter.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
def _in_steps(fte: float) -> float:
    if abs(fte / FTE_STEP - round(fte / FTE_STEP)) > 1e-9:
        raise ValueError(f"must be a multiple of {FTE_STEP}")
    return round(fte, 2)


# A position may be split, no part below a quarter; the state allows steps of FTE_STEP.
Fte = Annotated[float, pydantic.Field(ge=FTE_MIN, le=FTE_MAX, strict=True, allow_inf_nan=False,
                                      json_schema_extra={"multipleOf": FTE_STEP}),  # the API document says it
                AfterValidator(_in_steps)]


class PositionCreate(BaseModel):
    """Body of POST /positions."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = pydantic.Field(default=None, max_length=8, pattern=AGS_PATTERN)
    fte: Fte
    # v1 clients send none: the vocational rate, the lower one.
    qualification: Qualification = Qualification.vocational
    starts_on: TermDate
    ends_on: TermDate  # after starts_on, within MAX_TERM_MONTHS: checked by service.check_term


class OccupancyChange(BaseModel):
    """Body of POST /positions/{id}/occupancy."""

    model_config = ConfigDict(extra="forbid")

    occupied: bool = pydantic.Field(strict=True)
    since: IsoDate


# Said in the document too (checked by control_free and the trimming): no control characters but line breaks
# and tabs, no whitespace at either end, so its length is the trimmed length.
FREE_TEXT = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
Justification = Annotated[str, pydantic.Field(min_length=JUSTIFICATION_MIN, max_length=JUSTIFICATION_MAX,
                                              json_schema_extra={"pattern": FREE_TEXT}),
                          AfterValidator(control_free)]


class ExtensionApplicationCreate(BaseModel):
    """Body of POST /positions/{id}/extension-applications (required since v2: the justification)."""

    # Trimmed before the length is checked: twenty spaces are no justification.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # The extension kinds only: a new position is applied for with POST /new-position-applications.
    kind: Literal["extension_24_months", "interruption_12_months"] = "extension_24_months"
    justification: Justification
    # The interruption of salary payments a 12-month extension makes good: within the term, from < to.
    interruption_from: IsoDate | None = None
    interruption_to: IsoDate | None = None


class NewPositionApplicationCreate(BaseModel):
    """Body of POST /new-position-applications: the position applied for and the municipality's justification."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tenant: str | None = pydantic.Field(default=None, max_length=8, pattern=AGS_PATTERN)
    fte: Fte
    qualification: Qualification
    starts_on: TermDate  # the requested start of the funding
    months: int = pydantic.Field(ge=1, le=MAX_TERM_MONTHS, strict=True)  # the requested term
    justification: Justification


class PositionPublic(BaseModel):
    """A position as the API shows it; `ended` is true once its term lies in the past."""

    id: str
    tenant: str
    fte: float
    qualification: Qualification
    starts_on: date
    ends_on: date
    status: PositionStatus
    status_since: date | None
    ended: bool
    open_application_id: str | None  # the application still waiting for the state's decision

    @classmethod
    def of(cls, position: FundingPosition, today: date, open_application_id: str | None) -> PositionPublic:
        return cls(id=position.id, tenant=position.tenant, fte=position.fte, qualification=position.qualification,
                   starts_on=position.starts_on, ends_on=position.ends_on, status=position.status,
                   status_since=position.status_since, ended=position.ends_on < today,
                   open_application_id=open_application_id)


class PositionPage(BaseModel):
    """A page of positions, oldest term first; `next_cursor` is passed as `cursor` for the next page."""

    items: list[PositionPublic]
    next_cursor: str | None = pydantic.Field(default=None, pattern=ULID_PATTERN)


class ExtensionApplicationPublic(BaseModel):
    """An application (an extension's or a new position's); `reason` is the state's, `justification` the
    municipality's; `has_letter`: this node printed the decision letter (GET …/letter.pdf answers)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant: str
    position_id: str
    status: ApplicationStatus
    kind: ExtensionKind
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    interruption_from: date | None
    interruption_to: date | None
    justification: str | None
    decided_on: date | None
    reason: str | None
    granted_months: int | None
    withdrawn_on: date | None
    has_letter: bool = False

    @classmethod
    def of(cls, application: FundingExtensionApplication, has_letter: bool) -> ExtensionApplicationPublic:
        return cls.model_validate(application).model_copy(update={"has_letter": has_letter})


class OccupancyPublic(BaseModel):
    """One entry of a position's occupancy history."""

    model_config = ConfigDict(from_attributes=True)

    occupied: bool
    since: date
    recorded_at: datetime


class Rates(BaseModel):
    """A full-time position's fixed amount per year, by qualification level, in whole euros."""

    model_config = ConfigDict(extra="forbid")

    vocational: int = pydantic.Field(ge=1, le=1_000_000, strict=True)
    academic: int = pydantic.Field(ge=1, le=1_000_000, strict=True)


class FundingYearPublic(BaseModel):
    """A funding year as both levels show it (body of POST /years at the state)."""

    model_config = ConfigDict(extra="forbid")

    year: int = pydantic.Field(ge=2000, le=2099, strict=True)
    budget_eur: int = pydantic.Field(ge=0, le=10_000_000_000, strict=True)
    rates_eur: Rates

    @classmethod
    def of(cls, year: FundingYearBase) -> FundingYearPublic:
        return cls(year=year.year, budget_eur=year.budget_eur,
                   rates_eur=Rates(vocational=year.rate_vocational_eur, academic=year.rate_academic_eur))


class GrantPublic(BaseModel):
    """The grant of one funding year; `amount_eur` is null while the state has not set the year's rates."""

    year: int
    months: int
    rate_eur: int | None
    amount_eur: float | None

    @classmethod
    def of(cls, grant: YearGrant) -> GrantPublic:
        amount = None if grant.amount_eur is None else float(grant.amount_eur)
        return cls(year=grant.year, months=grant.months, rate_eur=grant.rate_eur, amount_eur=amount)


class PositionGrants(BaseModel):
    """Body of GET /positions/{id}/grants: the same figures on the municipal node and at the state."""

    position_id: str
    fte: float
    qualification: Qualification
    items: list[GrantPublic]
