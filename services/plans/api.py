"""HTTP routes of the plans service at municipal level: a case's plan and its goals, the lead's figures."""

from __future__ import annotations

from fastapi import APIRouter

from . import service
from .deps import (
    Caller,
    ContextDep,
    CurrentGoal,
    CurrentPlan,
    FiguresTenant,
    PlanOfCase,
    PlanToChange,
    SessionDep,
)
from .models import GoalChange, GoalCreate, GoalWritten, PlanPublic
from .statistics import GoalStatistics

router = APIRouter(prefix="/api/plans/v1", tags=["plans"])


@router.get("/plans", response_model=PlanPublic)
def find_plan(plan: PlanOfCase, session: SessionDep) -> PlanPublic:
    """The plan of a case (`case_id`)."""
    return PlanPublic.of(plan, service.goals_of(session, plan_id=plan.id))


@router.get("/plans/{plan_id}", response_model=PlanPublic)
def get_plan(plan: CurrentPlan, session: SessionDep) -> PlanPublic:
    """A plan with its goals."""
    return PlanPublic.of(plan, service.goals_of(session, plan_id=plan.id))


@router.post("/plans/{plan_id}/goals", status_code=201, response_model=GoalWritten)
def add_goal(body: GoalCreate, plan: PlanToChange, principal: Caller, session: SessionDep,
             ctx: ContextDep) -> GoalWritten:
    """Add an open goal; the plan's first goal makes it active."""
    goal = service.add_goal(session, plan=plan, area=body.area, title=body.title,
                            target_date=body.target_date, actor=principal.sub, node=ctx.node)
    return GoalWritten.of(goal, plan)


@router.patch("/plans/{plan_id}/goals/{goal_id}", response_model=GoalWritten)
def change_goal(body: GoalChange, plan: PlanToChange, goal: CurrentGoal,
                session: SessionDep, ctx: ContextDep) -> GoalWritten:
    """Change any of a goal's title, target date and status; the same values again change nothing."""
    # An absent target date stays; a null one clears it.
    target = body.target_date if "target_date" in body.model_fields_set else service.KEEP
    service.change_goal(session, plan=plan, goal=goal, node=ctx.node, title=body.title,
                        target_date=target, status=body.status)
    return GoalWritten.of(goal, plan)


@router.get("/statistics/goals", response_model=GoalStatistics)
def goal_statistics(tenant: FiguresTenant, session: SessionDep) -> GoalStatistics:
    """A lead's municipality (`tenant`; optional for a lead of one): goals by area and status, as the state counts."""
    return service.goal_statistics(session, tenant=tenant)
