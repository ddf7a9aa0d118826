"""Tables of the plans service at state level: goals by pseudonym (the answers are in ../statistics.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PartnerType, StepStatus
from shared.privacy import AGS_CODE, CODE, NODE_ID, PSEUDONYM, TIMESTAMP

PSEUDONYM_MAX = 100  # HMAC-SHA256 hex is 64; the envelope's aggregate ids allow 100


class StateGoal(SQLModel, table=True):
    """One goal of a municipal plan, known only by its node's pseudonyms."""

    __tablename__ = "plans_state_goal"
    __not_personal__ = {"node": NODE_ID, "goal_pseudonym": PSEUDONYM, "case_pseudonym": PSEUDONYM,
                        "tenant": AGS_CODE, "area": CODE, "status": CODE, "updated_at": TIMESTAMP}

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that sent it
    goal_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    case_pseudonym: str = Field(index=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(index=True, max_length=8)
    area: Topic = Field(sa_type=String(20))
    status: GoalStatus = Field(sa_type=String(20))
    plan_version: int  # the plan's version after the event that last changed this row
    updated_at: datetime = Field(default_factory=utcnow)


class StateReferral(SQLModel, table=True):
    """One referral of a municipal plan to a partner service: its type and status, known only by pseudonyms."""

    __tablename__ = "plans_state_referral"
    __not_personal__ = {"node": NODE_ID, "step_pseudonym": PSEUDONYM, "case_pseudonym": PSEUDONYM,
                        "tenant": AGS_CODE, "area": CODE, "partner_type": CODE, "status": CODE,
                        "updated_at": TIMESTAMP}

    node: str = Field(primary_key=True, max_length=63)
    step_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    case_pseudonym: str = Field(index=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(index=True, max_length=8)
    area: Topic = Field(sa_type=String(20))
    partner_type: PartnerType = Field(sa_type=String(40))
    status: StepStatus = Field(sa_type=String(10))
    plan_version: int  # the plan's version after the event that last changed this row
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [StateGoal.__table__, StateReferral.__table__]  # type: ignore[attr-defined]
