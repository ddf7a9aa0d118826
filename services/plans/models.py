"""Tables and API schemas of the plans service at municipal level: integration plans and goals."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.fields import IsoDate

TITLE_MAX = 200
EARLIEST_TARGET = date(2000, 1, 1)
TARGET_YEARS_AHEAD = 10


class PlanStatus(StrEnum):
    """A plan is a draft until its first goal, active until its case closes, then closed."""

    draft = "draft"
    active = "active"
    closed = "closed"


class Plan(SQLModel, table=True):
    """A client's integration plan (Integrationsplan); one per case, created when the case opens."""

    __tablename__ = "plans_plan"

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(unique=True, max_length=100)
    tenant: str = Field(index=True, max_length=8)
    manager: str = Field(index=True, max_length=255)
    status: PlanStatus = Field(sa_type=String(10))
    version: int = 1
    last_contact_on: date | None = None  # latest consultation held in the case
    closed_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Goal(SQLModel, table=True):
    """A goal in one area (Handlungsfeld) of a plan; its free-text title never leaves here."""

    __tablename__ = "plans_goal"

    id: str = Field(primary_key=True, max_length=26)
    plan_id: str = Field(index=True, max_length=26, foreign_key="plans_plan.id")
    area: Topic = Field(sa_type=String(20))
    title: str = Field(max_length=TITLE_MAX)
    target_date: date | None = None
    status: GoalStatus = Field(sa_type=String(20))
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [Plan.__table__, Goal.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
def years_ahead(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    year = day.year + years
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def _within_horizon(value: date) -> date:
    latest = years_ahead(date.today(), TARGET_YEARS_AHEAD)
    if value > latest:
        raise ValueError(f"must be at most {TARGET_YEARS_AHEAD} years ahead (until {latest})")
    return value


TargetDate = Annotated[IsoDate, pydantic.Field(ge=EARLIEST_TARGET), AfterValidator(_within_horizon)]
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


class GoalChange(BaseModel):
    """Body of PATCH /plans/{id}/goals/{goal_id}: any of title, target_date (null clears it), status."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    target_date: TargetDate | None = None
    status: GoalStatus | None = None

    @pydantic.field_validator("title", "status", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Only the target date can be cleared; a goal always has a title and a status.
        if value is None:
            raise ValueError("may not be null")
        return value

    @pydantic.model_validator(mode="after")
    def _something(self) -> GoalChange:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, target_date, status")
        return self


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

    @classmethod
    def of(cls, goal: Goal, plan: Plan) -> GoalWritten:
        # Validated from the row's attributes: a loaded row holds its codes as plain strings.
        return cls(**GoalPublic.model_validate(goal).model_dump(), plan_version=plan.version)


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
    def of(cls, plan: Plan, goals: list[Goal]) -> PlanPublic:
        return cls(id=plan.id, case_id=plan.case_id, tenant=plan.tenant, manager=plan.manager,
                   status=plan.status, version=plan.version,
                   last_contact_on=plan.last_contact_on, closed_on=plan.closed_on,
                   created_at=plan.created_at, updated_at=plan.updated_at,
                   goals=[GoalPublic.model_validate(g) for g in goals])
