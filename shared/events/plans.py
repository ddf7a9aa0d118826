"""Contracts produced by the plans service. Goal titles are free text and stay in the plans database."""

from datetime import date

from .codes import GoalStatus, Topic
from .envelope import Contract
from .registry import contract
from .streams import PLANS


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
