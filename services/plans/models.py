"""Tables and API schemas of the plans service: integration plans and their goals."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic

from .statistics import MIN_CELL, CrossTable, Masked

PlanStatus = Literal["draft", "active", "closed"]
TITLE_MAX = 200
EARLIEST_TARGET = date(2000, 1, 1)
TARGET_YEARS_AHEAD = 10
PSEUDONYM_MAX = 100  # HMAC-SHA256 hex is 64; the envelope's aggregate ids allow 100
AREAS: tuple[str, ...] = get_args(Topic)
GOAL_STATUSES: tuple[str, ...] = get_args(GoalStatus)


class PlansPlan(SQLModel, table=True):
    """A client's integration plan (Integrationsplan); one per case, created when the case opens."""

    __tablename__ = "plans_plan"

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(unique=True, max_length=100)
    tenant: str = Field(index=True, max_length=8)
    manager: str = Field(index=True, max_length=255)
    status: str = Field(max_length=10)  # PlanStatus
    version: int = 1
    last_contact_on: date | None = None  # latest consultation held in the case
    closed_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PlansGoal(SQLModel, table=True):
    """A goal in one area (Handlungsfeld) of a plan; its free-text title never leaves here."""

    __tablename__ = "plans_goal"

    id: str = Field(primary_key=True, max_length=26)
    plan_id: str = Field(index=True, max_length=26, foreign_key="plans_plan.id")
    area: str = Field(max_length=20)  # Topic
    title: str = Field(max_length=TITLE_MAX)
    target_date: date | None = None
    status: str = Field(max_length=20)  # GoalStatus
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PlansStateGoal(SQLModel, table=True):
    """State level: one goal of a municipal plan, known only by its node's pseudonyms."""

    __tablename__ = "plans_state_goal"

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that sent it
    goal_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    case_pseudonym: str = Field(index=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(index=True, max_length=8)
    area: str = Field(max_length=20)  # Topic
    status: str = Field(max_length=20)  # GoalStatus
    plan_version: int  # the plan's version after the event that last changed this row
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [PlansPlan.__table__, PlansGoal.__table__, PlansStateGoal.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
def years_ahead(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    year = day.year + years
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def _iso_date_only(value: Any) -> Any:
    """Dates travel as ISO strings; a number is not silently read as a Unix timestamp."""
    if not isinstance(value, str | date):
        raise ValueError("must be an ISO date string (YYYY-MM-DD)")
    return value


def _within_horizon(value: date) -> date:
    latest = years_ahead(date.today(), TARGET_YEARS_AHEAD)
    if value > latest:
        raise ValueError(f"must be at most {TARGET_YEARS_AHEAD} years ahead (until {latest})")
    return value


TargetDate = Annotated[
    date, BeforeValidator(_iso_date_only), pydantic.Field(ge=EARLIEST_TARGET),
    AfterValidator(_within_horizon),
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX),
    pydantic.Field(strict=True),
]


class GoalCreate(BaseModel):
    """Body of POST /plans/{id}/goals."""

    model_config = ConfigDict(extra="forbid")

    area: Topic
    title: Title
    target_date: TargetDate | None = None


class GoalStatusChange(BaseModel):
    """Body of PATCH /plans/{id}/goals/{goal_id}."""

    model_config = ConfigDict(extra="forbid")

    status: GoalStatus


class GoalPublic(BaseModel):
    """A goal as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    plan_id: str
    area: Topic
    title: str
    target_date: date | None
    status: GoalStatus
    created_at: datetime
    updated_at: datetime


class GoalWritten(GoalPublic):
    """A goal just added or changed, with the plan's version after the write."""

    plan_version: int


class PlanPublic(BaseModel):
    """A plan with its goals, oldest goal first."""

    id: str
    case_id: str
    tenant: str
    manager: str
    status: PlanStatus
    version: int
    last_contact_on: date | None
    closed_on: date | None
    created_at: datetime
    updated_at: datetime
    goals: list[GoalPublic]

    @classmethod
    def of(cls, plan: PlansPlan, goals: list[PlansGoal]) -> PlanPublic:
        return cls(id=plan.id, case_id=plan.case_id, tenant=plan.tenant, manager=plan.manager,
                   status=plan.status,  # type: ignore[arg-type]
                   version=plan.version, last_contact_on=plan.last_contact_on,
                   closed_on=plan.closed_on, created_at=plan.created_at,
                   updated_at=plan.updated_at,
                   goals=[GoalPublic.model_validate(g) for g in goals])


# -- state level: goal statistics -------------------------------------------------------------
class Count(BaseModel):
    """A published count: null with `suppressed` true when it is small or would reveal one."""

    count: int | None
    suppressed: bool

    @classmethod
    def of(cls, masked: Masked) -> Count:
        return cls(count=masked.count, suppressed=masked.suppressed)


class GoalCount(Count):
    area: Topic
    status: GoalStatus


class AreaCount(Count):
    area: Topic


class StatusCount(Count):
    status: GoalStatus


class GoalStatistics(BaseModel):
    """Goals by area and status with totals; `clients` counts distinct clients with goals."""

    tenant: str | None
    min_cell: int
    cells: list[GoalCount]
    by_area: list[AreaCount]
    by_status: list[StatusCount]
    total: Count
    clients: Count

    @classmethod
    def of(cls, tenant: str | None, table: CrossTable[str, str], clients: Masked) -> GoalStatistics:
        return cls(
            tenant=tenant, min_cell=MIN_CELL,
            cells=[GoalCount(area=a, status=s, count=m.count,  # type: ignore[arg-type]
                             suppressed=m.suppressed) for (a, s), m in table.cells.items()],
            by_area=[AreaCount(area=a, count=m.count,  # type: ignore[arg-type]
                               suppressed=m.suppressed) for a, m in table.row_totals.items()],
            by_status=[StatusCount(status=s, count=m.count,  # type: ignore[arg-type]
                                   suppressed=m.suppressed)
                       for s, m in table.column_totals.items()],
            total=Count.of(table.total), clients=Count.of(clients))
