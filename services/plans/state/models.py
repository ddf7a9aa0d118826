"""Tables of the plans service at state level: goals, referrals and cases by pseudonym (the answers are in
../statistics.py, agreements.py and outcomes.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import CloseReason, GoalStatus, Topic
from shared.events.plans import PartnerType, StepStatus
from shared.privacy import AGS_CODE, CODE, NODE_ID, PROCESS_DATE, PSEUDONYM, TIMESTAMP

PSEUDONYM_MAX = 100  # HMAC-SHA256 hex is 64; the envelope's aggregate ids allow 100


class StateGoal(SQLModel, table=True):
    """One goal of a municipal plan, known only by its node's pseudonyms."""

    __tablename__ = "plans_state_goal"
    __not_personal__ = {"node": NODE_ID, "goal_pseudonym": PSEUDONYM, "case_pseudonym": PSEUDONYM,
                        "tenant": AGS_CODE, "area": CODE, "status": CODE, "status_changed_on": PROCESS_DATE,
                        "updated_at": TIMESTAMP}

    node: str = Field(primary_key=True, max_length=63)  # the municipal node that sent it
    goal_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    case_pseudonym: str = Field(index=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(index=True, max_length=8)
    area: Topic = Field(sa_type=String(20))
    status: GoalStatus = Field(sa_type=String(20))
    status_changed_on: date | None = None  # the day the current status was set (None: recorded before it was kept)
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


class StateCase(SQLModel, table=True):
    """A municipal case, known only by its node's pseudonym: when it was opened, first consulted and closed (and why),
    when its plan was first agreed (each from its own event, in whichever order they arrive)."""

    __tablename__ = "plans_state_case"
    __not_personal__ = {"node": NODE_ID, "case_pseudonym": PSEUDONYM, "tenant": AGS_CODE, "opened_on": PROCESS_DATE,
                        "first_consulted_on": PROCESS_DATE, "closed_on": PROCESS_DATE, "close_reason": CODE,
                        "agreed_on": PROCESS_DATE, "updated_at": TIMESTAMP}

    node: str = Field(primary_key=True, max_length=63)
    case_pseudonym: str = Field(primary_key=True, max_length=PSEUDONYM_MAX)
    tenant: str = Field(max_length=8)  # the answers count every row: a statewide table, protected as a whole
    opened_on: date | None = None
    first_consulted_on: date | None = None  # the earliest consultation known, for the months to independence
    closed_on: date | None = None
    close_reason: CloseReason | None = Field(default=None, sa_type=String(20))
    agreed_on: date | None = None  # the first agreement to any version of the case's plan
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [StateGoal.__table__, StateReferral.__table__, StateCase.__table__]  # type: ignore[attr-defined]
