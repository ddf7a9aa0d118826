"""Tables and API schemas of the plans service at municipal level: integration plans and goals."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from shared import clock
from shared.db import append_only
from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PartnerType, StepActor, StepStatus
from shared.fields import IsoDate
from shared.privacy import ACCESS_LOG, AGS_CODE, CODE, ID, PROCESS_DATE, TIMESTAMP, DataClass, Personal, Retention
from shared.sealing import SealedText, sealed

TITLE_MAX = 200
STEP_MAX = 300
EARLIEST_TARGET = date(2000, 1, 1)
TARGET_YEARS_AHEAD = 10


PLANNING = "the integration plan agreed with the client (counselling)"
STAFF = Personal(DataClass.staff, "who works on the plan", Retention.staff)
CONTENT = Personal(DataClass.case_content, PLANNING, Retention.case, encrypted=True)  # sealed with the plan's key
# a client's dates reveal their circumstances: sealed too, where no query filters on them
PLAN_DATE = Personal(DataClass.case_content, PLANNING, Retention.case, encrypted=True)
AGREED_ON = Personal(DataClass.case_content, PLANNING, Retention.case)  # the agreement statistics count by year


class PlanStatus(StrEnum):
    """A plan is a draft until its first goal, active until its case closes, then closed."""

    draft = "draft"
    active = "active"
    closed = "closed"


@sealed
class Plan(SQLModel, table=True):
    """A client's integration plan (Integrationsplan); one per case, created when the case opens.

    Its personal fields, its goals' and its versions' are sealed with the plan's own key (subject: the plan's
    id), a step's with its goal's; erasing the plan destroys them (services/plans/erasure.py).
    """

    __tablename__ = "plans_plan"
    __subject__ = "id"
    __not_personal__ = {"id": ID, "case_id": ID, "tenant": AGS_CODE, "status": CODE, "closed_on": PROCESS_DATE,
                        "erased_on": PROCESS_DATE, "created_at": TIMESTAMP, "updated_at": TIMESTAMP}
    __personal__ = {"manager": STAFF, "last_contact_on": PLAN_DATE, "review_on": PLAN_DATE}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(unique=True, max_length=100)
    tenant: str = Field(index=True, max_length=8)
    manager: str = Field(index=True, max_length=255)
    status: PlanStatus = Field(sa_type=String(10))
    version: int = 1
    last_contact_on: date | None = Field(default=None, sa_type=SealedText("date"))  # latest consultation held
    closed_on: date | None = None
    # The plan as an agreement: the version being worked on, the last one the client agreed to.
    agreement_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    agreed_version: int | None = None
    # the next review, six months after an agreement by default
    review_on: date | None = Field(default=None, sa_type=SealedText("date"))
    erased_on: date | None = None  # its case's personal data erased: its texts gone, served no more
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


@sealed
class Goal(SQLModel, table=True):
    """A goal in one area (Handlungsfeld) of a plan; its free-text title never leaves here."""

    __tablename__ = "plans_goal"
    __subject__ = "plan_id"
    __not_personal__ = {"id": ID, "plan_id": ID, "area": CODE, "status": CODE, "created_at": TIMESTAMP,
                        "updated_at": TIMESTAMP}
    __personal__ = {"title": CONTENT, "target_date": PLAN_DATE, "created_by": STAFF}

    id: str = Field(primary_key=True, max_length=26)
    plan_id: str = Field(index=True, max_length=26, foreign_key="plans_plan.id")
    area: Topic = Field(sa_type=String(20))
    title: str = Field(sa_type=SealedText())
    target_date: date | None = Field(default=None, sa_type=SealedText("date"))
    status: GoalStatus = Field(sa_type=String(20))
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AuditAction(StrEnum):
    """What an audited access to a plan did (plans are case contents, like the case file)."""

    read = "read"
    add_goal = "add_goal"
    change_goal = "change_goal"
    read_audit = "read_audit"
    add_step = "add_step"
    change_step = "change_step"
    agree = "agree"
    record_review = "record_review"
    read_versions = "read_versions"
    read_version = "read_version"
    print_document = "print"
    export = "export"


class AuditEntry(SQLModel, table=True):
    """One read or write of a plan, goal or step: who, when, what. Append-only, enforced by the database."""

    __tablename__ = "plans_audit"
    __not_personal__ = {"action": CODE, "case_id": ID, "plan_id": ID, "tenant": AGS_CODE, "break_glass": ID}
    __personal__ = {"at": Personal(DataClass.access_log, ACCESS_LOG, Retention.access_log),
                    "actor": Personal(DataClass.staff, ACCESS_LOG, Retention.access_log),
                    "detail": Personal(DataClass.access_log, ACCESS_LOG, Retention.access_log)}

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=255)
    action: AuditAction = Field(sa_type=String(30))
    case_id: str = Field(index=True, max_length=100)
    plan_id: str = Field(max_length=26)
    tenant: str = Field(max_length=8)
    detail: str | None = Field(default=None, max_length=100)  # a goal or step id, a version
    # the stand-in's break-glass access this was made under (the BreakGlassOpened event's id: stand_ins.py)
    break_glass: str | None = Field(default=None, max_length=26)


@sealed
class Step(SQLModel, table=True):
    """A step agreed to reach a goal: what, who (a partner service by its type only), by when, its status."""

    __tablename__ = "plans_step"
    __subject__ = "goal_id"
    __not_personal__ = {"id": ID, "goal_id": ID, "who": CODE, "partner_type": CODE, "status": CODE,
                        "created_at": TIMESTAMP, "updated_at": TIMESTAMP}
    __personal__ = {"what": CONTENT, "due_on": PLAN_DATE, "created_by": STAFF}

    id: str = Field(primary_key=True, max_length=26)
    goal_id: str = Field(index=True, max_length=26, foreign_key="plans_goal.id")
    what: str = Field(sa_type=SealedText())  # free text: never leaves here
    who: StepActor = Field(sa_type=String(10))
    partner_type: PartnerType | None = Field(default=None, sa_type=String(40))
    due_on: date | None = Field(default=None, sa_type=SealedText("date"))
    status: StepStatus = Field(sa_type=String(10))
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


@sealed
class PlanVersion(SQLModel, table=True):
    """A version of the plan the client agreed to: its goals and steps as they were, and how it was agreed."""

    __tablename__ = "plans_version"
    __subject__ = "plan_id"
    __not_personal__ = {"plan_id": ID, "created_at": TIMESTAMP}
    __personal__ = {"agreed_on": AGREED_ON, "language": Personal(DataClass.origin, PLANNING, Retention.case, True),
                    "recorded_by": STAFF, "snapshot": CONTENT}

    plan_id: str = Field(primary_key=True, max_length=26, foreign_key="plans_plan.id")
    number: int = Field(primary_key=True)
    agreed_on: date
    language: str = Field(sa_type=SealedText())  # the language the plan was explained in (ISO 639)
    signed_on_paper: bool
    recorded_by: str = Field(max_length=255)
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class StandIn(SQLModel, table=True):
    """A stand-in's break-glass access to a case outside their caseload (BreakGlassOpened): its plan too, until."""

    __tablename__ = "plans_stand_in"
    __not_personal__ = {"id": ID, "case_id": ID, "tenant": AGS_CODE, "until": TIMESTAMP}
    __personal__ = {"manager": STAFF}

    id: str = Field(primary_key=True, max_length=26)  # the event's id
    case_id: str = Field(index=True, max_length=100)
    tenant: str = Field(max_length=8)
    manager: str = Field(max_length=255)
    until: datetime


class ErasurePermit(SQLModel, table=True):
    """Exists only inside the transaction that erases a plan's texts: the audit trail's triggers admit it."""

    __tablename__ = "plans_erasure_permit"

    id: int | None = Field(default=None, primary_key=True)


TABLES = [Plan.__table__, Goal.__table__, AuditEntry.__table__, Step.__table__,  # type: ignore[attr-defined]
          PlanVersion.__table__, StandIn.__table__, ErasurePermit.__table__]  # type: ignore[attr-defined]

# The audit trail refuses UPDATE and DELETE in the database itself, except in an erasure's transaction
# (migrations 0002 and 0004 do the same).
append_only(AuditEntry.__table__, permit=ErasurePermit.__tablename__)  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
def years_ahead(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    year = day.year + years
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def _within_horizon(value: date) -> date:
    latest = years_ahead(clock.today(), TARGET_YEARS_AHEAD)
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


def _present(value: object) -> object:
    if value is None:
        raise ValueError("may not be null")
    return value


Kept = BeforeValidator(_present)  # a field a change may leave out, but not clear


class ChangeBody(BaseModel):
    """A PATCH body: any of its fields, at least one."""

    model_config = ConfigDict(extra="forbid")

    @pydantic.model_validator(mode="after")
    def _something(self) -> ChangeBody:
        if not self.model_fields_set:
            raise ValueError(f"give at least one of {', '.join(type(self).model_fields)}")
        return self


class GoalChange(ChangeBody):
    """Body of PATCH /plans/{id}/goals/{goal_id}: any of title, target_date (null clears it), status."""

    # Only the target date can be cleared; a goal always has a title and a status.
    title: Annotated[Title | None, Kept] = None
    target_date: TargetDate | None = None
    status: Annotated[GoalStatus | None, Kept] = None


class StepPublic(BaseModel):
    """A step as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    goal_id: str
    what: str
    who: StepActor
    partner_type: PartnerType | None
    due_on: date | None
    status: StepStatus
    created_at: datetime
    updated_at: datetime


class GoalPublic(BaseModel):
    """A goal as the API shows it, with its steps (oldest first)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    plan_id: str
    area: Topic
    title: str
    target_date: date | None
    status: GoalStatus
    created_at: datetime
    updated_at: datetime
    steps: list[StepPublic] = []

    @classmethod
    def with_steps(cls, goal: Goal, steps: list[Step]) -> GoalPublic:
        shown = cls.model_validate(goal)
        shown.steps = [StepPublic.model_validate(s) for s in steps]
        return shown


class GoalWritten(GoalPublic):
    """A goal just added or changed, with the plan's version after the write."""

    plan_version: int

    @classmethod
    def of(cls, goal: Goal, plan: Plan, steps: list[Step] | None = None) -> GoalWritten:
        # Validated from the row's attributes: a loaded row holds its codes as plain strings.
        return cls(**GoalPublic.with_steps(goal, steps or []).model_dump(), plan_version=plan.version)


class PlanPublic(BaseModel):
    """A plan with its goals (oldest first) and their steps; `version` counts every change,
    `agreement_version` is the version of the plan as an agreement (a draft unless `agreed_version`)."""

    id: str
    case_id: str
    tenant: str
    manager: str
    status: PlanStatus
    version: int
    agreement_version: int
    agreed_version: int | None
    review_on: date | None
    last_contact_on: date | None
    closed_on: date | None
    created_at: datetime
    updated_at: datetime
    goals: list[GoalPublic]

    @classmethod
    def of(cls, plan: Plan, goals: list[Goal], steps: dict[str, list[Step]] | None = None) -> PlanPublic:
        steps = steps or {}
        return cls(id=plan.id, case_id=plan.case_id, tenant=plan.tenant, manager=plan.manager,
                   status=plan.status, version=plan.version, agreement_version=plan.agreement_version,
                   agreed_version=plan.agreed_version, review_on=plan.review_on,
                   last_contact_on=plan.last_contact_on, closed_on=plan.closed_on,
                   created_at=plan.created_at, updated_at=plan.updated_at,
                   goals=[GoalPublic.with_steps(g, steps.get(g.id, [])) for g in goals])
