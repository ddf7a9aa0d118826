"""Tables and API schemas of the plans service at state level: goals by pseudonym, goal statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic

from .statistics import MIN_CELL, CrossTable, Masked

PSEUDONYM_MAX = 100  # HMAC-SHA256 hex is 64; the envelope's aggregate ids allow 100


class StateGoal(SQLModel, table=True):
    """One goal of a municipal plan, known only by its node's pseudonyms."""

    __tablename__ = "plans_state_goal"

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that sent it
    goal_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    case_pseudonym: str = Field(index=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(index=True, max_length=8)
    area: Topic = Field(sa_type=String(20))
    status: GoalStatus = Field(sa_type=String(20))
    plan_version: int  # the plan's version after the event that last changed this row
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [StateGoal.__table__]  # type: ignore[attr-defined]


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
    def of(cls, tenant: str | None, table: CrossTable[Topic, GoalStatus],
           clients: Masked) -> GoalStatistics:
        return cls(
            tenant=tenant, min_cell=MIN_CELL,
            cells=[GoalCount(area=a, status=s, count=m.count, suppressed=m.suppressed)
                   for (a, s), m in table.cells.items()],
            by_area=[AreaCount(area=a, count=m.count, suppressed=m.suppressed)
                     for a, m in table.row_totals.items()],
            by_status=[StatusCount(status=s, count=m.count, suppressed=m.suppressed)
                       for s, m in table.column_totals.items()],
            total=Count.of(table.total), clients=Count.of(clients))
