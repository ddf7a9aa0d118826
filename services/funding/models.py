"""Tables and API schemas of the funding service: positions and their extension applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import ApplicationStatus, PositionStatus

MAX_TERM_MONTHS = 120  # a position is registered for at most ten years
REASON_MAX = 2000
ID_MAX = 100  # ids from other nodes: the envelope's aggregate ids allow 100


def _iso_date_only(value: Any) -> Any:
    """Dates travel as ISO strings; a number is not silently read as a Unix timestamp."""
    if not isinstance(value, str | date):
        raise ValueError("must be an ISO date string (YYYY-MM-DD)")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
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
    status: str = Field(max_length=20)  # PositionStatus
    status_since: date | None = None  # day of the last occupancy change
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FundingExtensionApplication(SQLModel, table=True):
    """An application to extend a position by 24 months, decided by the state."""

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
    status: str = Field(max_length=20)  # ApplicationStatus
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    justification: str | None = Field(default=None, max_length=REASON_MAX)
    applied_by: str = Field(max_length=255)
    decided_on: date | None = None
    reason: str | None = Field(default=None, max_length=REASON_MAX)  # the state's reason
    decision_event_id: str | None = Field(default=None, max_length=26)
    created_at: datetime = Field(default_factory=utcnow)


class FundingStatePosition(SQLModel, table=True):
    """State level: a municipal position in the statewide register, fed by position events."""

    __tablename__ = "funding_state_position"

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that registered it
    position_id: str = Field(primary_key=True, max_length=ID_MAX)  # the municipal position id
    tenant: str = Field(index=True, max_length=8)
    fte: float
    status: str = Field(max_length=20)  # PositionStatus
    status_since: date | None = None
    starts_on: date
    ends_on: date  # moved by 24 months when the state approves an extension
    registered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FundingStateApplication(SQLModel, table=True):
    """State level: the state's copy of a municipal extension application, decided here."""

    __tablename__ = "funding_state_application"

    id: str = Field(primary_key=True, max_length=ID_MAX)  # the municipal application id
    node: str = Field(index=True, max_length=63)  # where the decision is sent
    tenant: str = Field(index=True, max_length=8)
    position_id: str = Field(max_length=ID_MAX)
    status: str = Field(index=True, max_length=20)  # ApplicationStatus
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    decided_on: date | None = None
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    decided_by: str | None = Field(default=None, max_length=255)
    received_at: datetime = Field(default_factory=utcnow)


TABLES = [FundingPosition.__table__, FundingExtensionApplication.__table__,  # type: ignore[attr-defined]
          FundingStatePosition.__table__, FundingStateApplication.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class PositionCreate(BaseModel):
    """Body of POST /positions."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = pydantic.Field(default=None, max_length=8, pattern=r"^\d{8}$")
    fte: float = pydantic.Field(ge=0.1, le=1.0, strict=True, allow_inf_nan=False)
    starts_on: TermDate
    ends_on: TermDate  # after starts_on, within MAX_TERM_MONTHS: checked by service.check_term


class OccupancyChange(BaseModel):
    """Body of POST /positions/{id}/occupancy."""

    model_config = ConfigDict(extra="forbid")

    occupied: bool = pydantic.Field(strict=True)
    since: IsoDate


class ExtensionApplicationCreate(BaseModel):
    """Optional body of POST /positions/{id}/extension-applications."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = pydantic.Field(default=None, max_length=REASON_MAX)


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

    @classmethod
    def of(cls, position: FundingPosition, today: date) -> PositionPublic:
        return cls(id=position.id, tenant=position.tenant, fte=position.fte,
                   starts_on=position.starts_on, ends_on=position.ends_on,
                   status=position.status,  # type: ignore[arg-type]
                   status_since=position.status_since, ended=position.ends_on < today)


class ExtensionApplicationPublic(BaseModel):
    """An extension application; `reason` is the state's, `justification` the municipality's."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant: str
    position_id: str
    status: ApplicationStatus
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    justification: str | None
    decided_on: date | None
    reason: str | None


# -- state level ------------------------------------------------------------------------------
class StatePositionPublic(BaseModel):
    """A position in the statewide register."""

    model_config = ConfigDict(from_attributes=True)

    node: str
    position_id: str
    tenant: str
    fte: float
    status: PositionStatus
    status_since: date | None
    starts_on: date
    ends_on: date
    ended: bool


class TenantFte(BaseModel):
    """A municipality's current positions (term not ended) and their FTE by status."""

    tenant: str
    positions: int
    total_fte: float
    approved_fte: float  # approved, not occupied yet
    occupied_fte: float
    vacant_fte: float  # vacant, re-fillable


class PositionRegister(BaseModel):
    """Body of GET /positions at state level."""

    items: list[StatePositionPublic]
    totals: list[TenantFte]

    @classmethod
    def of(cls, positions: list[FundingStatePosition], today: date) -> PositionRegister:
        items = [StatePositionPublic.model_validate({**p.model_dump(), "ended": p.ends_on < today})
                 for p in positions]
        sums: dict[str, dict[str, float]] = {}
        for p in items:
            if p.ended:
                continue
            t = sums.setdefault(p.tenant, {"positions": 0, "approved": 0.0, "occupied": 0.0,
                                           "vacant": 0.0})
            t["positions"] += 1
            t[p.status] += p.fte
        totals = [TenantFte(tenant=tenant, positions=int(t["positions"]),
                            total_fte=_fte(t["approved"] + t["occupied"] + t["vacant"]),
                            approved_fte=_fte(t["approved"]), occupied_fte=_fte(t["occupied"]),
                            vacant_fte=_fte(t["vacant"])) for tenant, t in sorted(sums.items())]
        return cls(items=items, totals=totals)


def _fte(value: float) -> float:
    return round(value, 3)  # 0.1 + 0.2 is 0.3 here, not 0.30000000000000004


class StateApplicationPublic(BaseModel):
    """An extension application as the state sees and decides it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    node: str
    tenant: str
    position_id: str
    status: ApplicationStatus
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    decided_on: date | None
    reason: str | None
    decided_by: str | None


class DecisionCreate(BaseModel):
    """Body of POST /extension-applications/{id}/decision (state level)."""

    model_config = ConfigDict(extra="forbid")

    approved: bool = pydantic.Field(strict=True)
    reason: str | None = pydantic.Field(default=None, max_length=REASON_MAX, strict=True)
