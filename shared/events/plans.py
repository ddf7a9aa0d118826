"""Contracts produced by the plans service, and the plan's own codes.

Goal titles and step texts are free text and stay in the plans database; so does a partner's name:
a referral travels only as its partner type.
"""

from datetime import date
from enum import StrEnum

from pydantic import Field

from .codes import GoalStatus, Topic
from .envelope import Contract
from .registry import contract
from .streams import PLANS


class StepActor(StrEnum):
    """Who takes a step: the client, the manager, or a partner service (then the step is a referral)."""

    client = "client"
    manager = "manager"
    partner = "partner"


class StepStatus(StrEnum):
    """A step is open or done; a referral is referred, accepted, done or declined."""

    open = "open"
    referred = "referred"
    accepted = "accepted"
    done = "done"
    declined = "declined"


class PartnerType(StrEnum):
    """The kind of partner service a client is referred to (codes only, never a name)."""

    jobcenter = "jobcenter"
    employment_agency = "employment_agency"  # Agentur für Arbeit
    language_course_provider = "language_course_provider"
    migration_counselling = "migration_counselling"  # MBE, JMD
    immigration_office = "immigration_office"  # Ausländerbehörde
    social_welfare_office = "social_welfare_office"
    youth_welfare_office = "youth_welfare_office"
    school = "school"
    childcare = "childcare"
    health_service = "health_service"
    housing = "housing"
    debt_counselling = "debt_counselling"
    volunteers = "volunteers"
    other = "other"


STEP_STATUSES = {
    StepActor.client: (StepStatus.open, StepStatus.done),
    StepActor.manager: (StepStatus.open, StepStatus.done),
    StepActor.partner: (StepStatus.referred, StepStatus.accepted, StepStatus.done, StepStatus.declined),
}


@contract
class PlanGoalAdded(Contract):
    """A goal was added to an integration plan."""

    event_type = "PlanGoalAdded"
    version = 1
    scope = "up"
    stream = PLANS
    pseudonymised_fields = ("case_id", "plan_id", "goal_id")
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    plan_id: str
    case_id: str
    goal_id: str
    manager: str | None = None  # local only: never reaches the state
    area: Topic
    target_date: date | None = None
    plan_version: int


@contract
class PlanGoalStatusChanged(Contract):
    """A goal's status changed (open, in_progress, achieved, dropped)."""

    event_type = "PlanGoalStatusChanged"
    version = 1
    scope = "up"
    stream = PLANS
    pseudonymised_fields = ("case_id", "plan_id", "goal_id")
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    plan_id: str
    case_id: str
    goal_id: str
    manager: str | None = None  # local only: never reaches the state
    area: Topic
    previous_status: GoalStatus
    status: GoalStatus
    plan_version: int


@contract
class PlanGoalRescheduled(Contract):
    """A goal's target date was set, moved or cleared (local only: notifications' overdue watch)."""

    event_type = "PlanGoalRescheduled"
    version = 1
    scope = "local"
    stream = PLANS

    plan_id: str
    case_id: str
    goal_id: str
    manager: str
    area: Topic
    status: GoalStatus  # the goal's status at the change, so a first date can start a watch
    target_date: date | None = None  # None: the goal no longer has a target date
    plan_version: int


@contract
class PlanReferralChanged(Contract):
    """A step with a partner service (a referral) was added or changed its status; the step's text stays home."""

    event_type = "PlanReferralChanged"
    version = 1
    scope = "up"
    stream = PLANS
    pseudonymised_fields = ("case_id", "plan_id", "goal_id", "step_id")
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    plan_id: str
    case_id: str
    goal_id: str
    step_id: str
    manager: str | None = None  # local only: never reaches the state
    area: Topic
    partner_type: PartnerType
    status: StepStatus
    plan_version: int


@contract
class PlanAgreed(Contract):
    """The client agreed to a version of the plan (the state counts open cases with an agreed plan).

    The language it was explained in and whether it was signed on paper stay home with the version.
    """

    event_type = "PlanAgreed"
    version = 1
    scope = "up"
    stream = PLANS
    pseudonymised_fields = ("case_id", "plan_id")
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    plan_id: str
    case_id: str
    manager: str | None = None  # local only: never reaches the state
    plan_version: int = Field(ge=1)  # the number of the version agreed to (1, 2, ...), not the plan's change count
    agreed_on: date


@contract
class PlanReviewScheduled(Contract):
    """A plan's next review date was set (at an agreement or a review) or cleared (local only: reminders)."""

    event_type = "PlanReviewScheduled"
    version = 1
    scope = "local"
    stream = PLANS

    plan_id: str
    case_id: str
    manager: str
    review_on: date | None = None
    plan_version: int
