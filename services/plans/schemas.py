"""API schemas of the plan as an agreement (steps under goals, agreements, reviews, versions) and of its audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from shared import clock
from shared.disclosure import MIN_CELL
from shared.events.plans import STEP_STATUSES, PartnerType, StepActor, StepStatus
from shared.fields import IsoDate

from .models import EARLIEST_TARGET, STEP_MAX, AuditAction, ChangeBody, GoalPublic, Kept, TargetDate

REVIEW_MONTHS = 6  # a plan is reviewed every six months from its agreement unless the manager says otherwise

StepText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=STEP_MAX),
    pydantic.Field(strict=True),
]


def _language(value: str) -> str:
    if not (2 <= len(value) <= 3 and value.isascii() and value.isalpha() and value.islower()):
        raise ValueError("must be an ISO 639 language code (2 or 3 small letters)")
    return value


def _not_future(value: date) -> date:
    if value > clock.today():
        raise ValueError("may not be in the future")
    return value


Language = Annotated[str, pydantic.Field(strict=True, max_length=3), AfterValidator(_language)]
PastDate = Annotated[IsoDate, pydantic.Field(ge=EARLIEST_TARGET), AfterValidator(_not_future)]


class StepCreate(BaseModel):
    """Body of POST /plans/{id}/goals/{goal_id}/steps; a partner step (a referral) names the partner's type."""

    model_config = ConfigDict(extra="forbid")

    what: StepText
    who: StepActor
    partner_type: PartnerType | None = None
    due_on: TargetDate | None = None
    status: StepStatus | None = None  # open for the client's or manager's step, referred for a referral

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> StepCreate:
        if (self.who == StepActor.partner) != (self.partner_type is not None):
            raise ValueError("partner_type: give it for a partner's step, and only then")
        if self.status is not None and self.status not in STEP_STATUSES[self.who]:
            allowed = ", ".join(STEP_STATUSES[self.who])
            raise ValueError(f"status: a {self.who} step is one of {allowed}")
        return self


class StepChange(ChangeBody):
    """Body of PATCH …/steps/{step_id}: any of what, due_on (null clears it), status; who stays as agreed."""

    what: Annotated[StepText | None, Kept] = None
    due_on: TargetDate | None = None
    status: Annotated[StepStatus | None, Kept] = None


class AgreementCreate(BaseModel):
    """Body of POST /plans/{id}/agreements: the client agreed to the current version."""

    model_config = ConfigDict(extra="forbid")

    agreed_on: PastDate
    language: Language
    signed_on_paper: bool = pydantic.Field(strict=True)
    review_on: TargetDate | None = None  # default: six months after agreed_on


class ReviewCreate(BaseModel):
    """Body of POST /plans/{id}/reviews: the plan was reviewed with the client; when the next review is."""

    model_config = ConfigDict(extra="forbid")

    reviewed_on: PastDate
    next_review_on: TargetDate | None = None  # default: six months after reviewed_on


class AgreementPublic(BaseModel):
    """How a version was agreed."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    agreed_on: date
    language: str
    signed_on_paper: bool
    recorded_by: str
    created_at: datetime


class VersionSummary(BaseModel):
    """One version in the plan's history: agreed (with how), or the current draft."""

    number: int
    status: str  # "agreed" or "draft"
    agreement: AgreementPublic | None


class VersionPublic(VersionSummary):
    """A version with its goals and steps as they were agreed (or are, for the draft)."""

    plan_id: str
    goals: list[GoalPublic]

    @classmethod
    def of(cls, plan_id: str, summary: VersionSummary, goals: list[dict[str, Any]] | list[GoalPublic]) -> VersionPublic:
        return cls(plan_id=plan_id, number=summary.number, status=summary.status, agreement=summary.agreement,
                   goals=[GoalPublic.model_validate(g) for g in goals])


class ReviewPublic(BaseModel):
    """A plan's review date after an agreement or a review."""

    plan_id: str
    agreement_version: int
    agreed_version: int | None
    review_on: date | None


class AuditEntryPublic(BaseModel):
    """One row of a plan's audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: AuditAction
    case_id: str
    plan_id: str
    tenant: str
    detail: str | None
    break_glass: str | None = None  # the stand-in's break-glass access the row was made under


class AuditPage(BaseModel):
    """A page of a plan's audit trail, oldest first."""

    items: list[AuditEntryPublic]
    next_cursor: int | None


class AgreedPlans(BaseModel):
    """GET /statistics/agreements (a lead's municipality): plans agreed in the year, withheld when 1 to 4."""

    tenant: str
    year: int
    plans_agreed: int | None
    suppressed: bool
    min_cell: int = MIN_CELL
