"""Tables and API schemas of the funding service at municipal level: positions and extension applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import JUSTIFICATION_MAX, ExtensionKind
from shared.fields import AGS_PATTERN, IsoDate
from shared.ids import ULID_PATTERN

from .terms import JUSTIFICATION_MIN, REASON_MAX, control_free

# A bounded calendar keeps every term and its extensions far from date overflow.
TermDate = Annotated[IsoDate, pydantic.Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class FundingPosition(SQLModel, table=True):
    """A funded integration manager position (Stelle) of one municipality."""

    __tablename__ = "funding_position"

    id: str = Field(primary_key=True, max_length=26)
    tenant: str = Field(index=True, max_length=8)
    fte: float
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
    decision_event_id: str | None = Field(default=None, max_length=26)
    created_at: datetime = Field(default_factory=utcnow)


TABLES = [FundingPosition.__table__, FundingExtensionApplication.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class PositionCreate(BaseModel):
    """Body of POST /positions."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = pydantic.Field(default=None, max_length=8, pattern=AGS_PATTERN)
    fte: float = pydantic.Field(ge=0.1, le=1.0, strict=True, allow_inf_nan=False)
    starts_on: TermDate
    ends_on: TermDate  # after starts_on, within MAX_TERM_MONTHS: checked by service.check_term


class OccupancyChange(BaseModel):
    """Body of POST /positions/{id}/occupancy."""

    model_config = ConfigDict(extra="forbid")

    occupied: bool = pydantic.Field(strict=True)
    since: IsoDate


Justification = Annotated[str, pydantic.Field(min_length=JUSTIFICATION_MIN, max_length=JUSTIFICATION_MAX),
                          AfterValidator(control_free)]


class ExtensionApplicationCreate(BaseModel):
    """Body of POST /positions/{id}/extension-applications (required since v2: the justification)."""

    # Trimmed before the length is checked: twenty spaces are no justification.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ExtensionKind = ExtensionKind.extension_24_months
    justification: Justification
    # The interruption of salary payments a 12-month extension makes good: within the term, from < to.
    interruption_from: IsoDate | None = None
    interruption_to: IsoDate | None = None


class PositionPublic(BaseModel):
    """A position as the API shows it; `ended` is true once its term lies in the past."""

    id: str
    tenant: str
    fte: float
    starts_on: date
    ends_on: date
    status: PositionStatus
    status_since: date | None
    ended: bool
    open_application_id: str | None  # the application still waiting for the state's decision

    @classmethod
    def of(cls, position: FundingPosition, today: date, open_application_id: str | None) -> PositionPublic:
        return cls(id=position.id, tenant=position.tenant, fte=position.fte,
                   starts_on=position.starts_on, ends_on=position.ends_on, status=position.status,
                   status_since=position.status_since, ended=position.ends_on < today,
                   open_application_id=open_application_id)


class PositionPage(BaseModel):
    """A page of positions, oldest term first; `next_cursor` is passed as `cursor` for the next page."""

    items: list[PositionPublic]
    next_cursor: str | None = pydantic.Field(default=None, pattern=ULID_PATTERN)


class ExtensionApplicationPublic(BaseModel):
    """An extension application; `reason` is the state's, `justification` the municipality's."""

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
