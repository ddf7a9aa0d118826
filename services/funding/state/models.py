"""Tables and API schemas of the funding service at state level: the register and the applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import JUSTIFICATION_MAX, ExtensionKind, Qualification
from shared.privacy import AGS_CODE, CODE, ID, NODE_ID, PROCESS_DATE, TIMESTAMP, DataClass, Personal, Retention

from ..models import FundingYearBase
from ..terms import FUNDED, MAX_TERM_MONTHS, REASON_MAX, control_free

ID_MAX = 100  # ids from other nodes: the envelope's aggregate ids allow 100


class FundingStatePosition(SQLModel, table=True):
    """A municipal position in the statewide register, fed by position events."""

    __tablename__ = "funding_state_position"
    __not_personal__ = {
        "node": NODE_ID, "position_id": ID, "tenant": AGS_CODE, "qualification": CODE, "status": CODE,
        "status_since": PROCESS_DATE, "starts_on": PROCESS_DATE, "ends_on": PROCESS_DATE, "registered_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that registered it
    position_id: str = Field(primary_key=True, max_length=ID_MAX)  # the municipal position id
    tenant: str = Field(index=True, max_length=8)
    fte: float
    # Nodes that predate qualification levels send none: the vocational rate, as they register it.
    qualification: Qualification = Field(default=Qualification.vocational, sa_type=String(20),
                                         sa_column_kwargs={"server_default": Qualification.vocational.value})
    status: PositionStatus = Field(sa_type=String(20))
    status_since: date | None = None
    starts_on: date
    ends_on: date  # moved by the kind's months when the state approves an extension
    registered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FundingStateApplication(SQLModel, table=True):
    """The state's copy of a municipal extension application, decided here."""

    __tablename__ = "funding_state_application"
    __not_personal__ = {
        "id": ID, "node": NODE_ID, "tenant": AGS_CODE, "position_id": ID, "status": CODE, "kind": CODE,
        "applied_on": PROCESS_DATE, "current_ends_on": PROCESS_DATE, "requested_ends_on": PROCESS_DATE,
        "interruption_from": PROCESS_DATE, "interruption_to": PROCESS_DATE, "decided_on": PROCESS_DATE,
        "withdrawn_on": PROCESS_DATE, "received_at": TIMESTAMP,
    }
    __personal__ = {
        "justification": Personal(DataClass.staff, "the municipality's reasons for the state", Retention.funding),
        "reason": Personal(DataClass.staff, "the state's reasons for its decision", Retention.funding),
        "decided_by": Personal(DataClass.staff, "which funding officer decided", Retention.funding),
    }

    id: str = Field(primary_key=True, max_length=ID_MAX)  # the municipal application id
    node: str = Field(index=True, max_length=63)  # where the decision is sent
    tenant: str = Field(index=True, max_length=8)
    position_id: str = Field(max_length=ID_MAX)
    status: ApplicationStatus = Field(index=True, sa_type=String(20))
    # Applications received before kinds existed asked for 24 months.
    kind: ExtensionKind = Field(default=ExtensionKind.extension_24_months, sa_type=String(30),
                                sa_column_kwargs={"server_default": ExtensionKind.extension_24_months.value})
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    interruption_from: date | None = None
    interruption_to: date | None = None
    justification: str | None = Field(default=None, max_length=JUSTIFICATION_MAX)  # the municipality's
    decided_on: date | None = None
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    granted_months: int | None = None  # what was approved; fewer than asked only with a reason
    decided_by: str | None = Field(default=None, max_length=255)
    withdrawn_on: date | None = None
    received_at: datetime = Field(default_factory=utcnow)


class FundingStateYear(FundingYearBase, table=True):
    """The state's funding years: the authority every node's copy comes from."""

    __tablename__ = "funding_state_year"
    __not_personal__ = {"set_at": TIMESTAMP}


class FundingAllocationKey(SQLModel, table=True):
    """A district's allocation key for a funding year: its share of assignments from initial reception."""

    __tablename__ = "funding_allocation_key"
    __not_personal__ = {"district": AGS_CODE}

    year: int = Field(primary_key=True)
    district: str = Field(primary_key=True, max_length=5)  # the Stadt-/Landkreis AGS (5 digits)
    share: float


TABLES = [FundingStatePosition.__table__, FundingStateApplication.__table__,  # type: ignore[attr-defined]
          FundingStateYear.__table__, FundingAllocationKey.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class StatePositionPublic(BaseModel):
    """A position in the statewide register."""

    node: str
    position_id: str
    tenant: str
    fte: float
    qualification: Qualification
    status: PositionStatus
    status_since: date | None
    starts_on: date
    ends_on: date
    ended: bool

    @classmethod
    def of(cls, position: FundingStatePosition, today: date) -> StatePositionPublic:
        p = position
        return cls(node=p.node, position_id=p.position_id, tenant=p.tenant, fte=p.fte,
                   qualification=p.qualification, status=p.status,
                   status_since=p.status_since, starts_on=p.starts_on, ends_on=p.ends_on, ended=p.ends_on < today)


class TenantFte(BaseModel):
    """A municipality's current funded positions (term not ended) and their FTE by status."""

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
        items = [StatePositionPublic.of(p, today) for p in positions]
        counted: dict[str, int] = {}
        fte: dict[str, dict[PositionStatus, float]] = {}
        for p in items:
            if p.ended or p.status not in FUNDED:  # a new position applied for, refused or withdrawn counts nowhere
                continue
            counted[p.tenant] = counted.get(p.tenant, 0) + 1
            by_status = fte.setdefault(p.tenant, dict.fromkeys(PositionStatus, 0.0))
            by_status[p.status] += p.fte
        totals = [TenantFte(tenant=tenant, positions=counted[tenant], total_fte=_fte(sum(f.values())),
                            approved_fte=_fte(f[PositionStatus.approved]),
                            occupied_fte=_fte(f[PositionStatus.occupied]),
                            vacant_fte=_fte(f[PositionStatus.vacant]))
                  for tenant, f in sorted(fte.items())]
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
    decided_by: str | None
    withdrawn_on: date | None


Reason = Annotated[str, pydantic.Field(max_length=REASON_MAX, strict=True), AfterValidator(control_free)]


class DecisionCreate(BaseModel):
    """Body of POST /extension-applications/{id}/decision.

    `reason` is required for a rejection and for an approval of fewer `months` than asked.
    """

    model_config = ConfigDict(extra="forbid")

    approved: bool = pydantic.Field(strict=True)
    reason: Reason | None = None
    months: int | None = pydantic.Field(default=None, ge=1, le=MAX_TERM_MONTHS, strict=True)  # None: as asked



DISTRICTS_MAX = 100  # Baden-Württemberg has 44 urban and rural districts
SHARE_MAX = 1_000_000
District = Annotated[str, pydantic.StringConstraints(pattern=r"^08\d{3}$")]  # a district's 5-digit AGS
Share = Annotated[float, pydantic.Field(gt=0, le=SHARE_MAX, allow_inf_nan=False)]


class AllocationKeys(BaseModel):
    """JSON body of PUT /years/{year}/allocation: each district's share of assignments (any scale)."""

    model_config = ConfigDict(extra="forbid")

    # Only districts' AGS as keys: said in the schema too (patternProperties alone would allow others).
    keys: dict[District, Share] = pydantic.Field(min_length=1, max_length=DISTRICTS_MAX,
                                                 json_schema_extra={"additionalProperties": False})


class DistrictBudgetPublic(BaseModel):
    """A district's allocation and commitments; `allocation_eur` is null for a district without a key."""

    district: str
    share: float | None
    allocation_eur: float | None
    committed_eur: float
    remaining_eur: float | None


class YearBudgetPublic(BaseModel):
    """Body of GET/PUT /years/{year}/allocation: the budget, per district, and statewide."""

    year: int
    budget_eur: int
    committed_eur: float
    remaining_eur: float
    districts: list[DistrictBudgetPublic]


class ImpactPublic(BaseModel):
    """What approving an application as asked adds to a year, against the district's allocation and the budget."""

    year: int
    extra_eur: float
    district: str
    district_committed_eur: float
    district_allocation_eur: float | None
    committed_eur: float
    budget_eur: int
    exceeds_allocation: bool
    exceeds_budget: bool
