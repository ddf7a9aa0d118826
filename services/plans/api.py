"""HTTP routes of the plans service: parse, authorise, call service.py, commit, map errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from shared.auth import Principal, can_see
from shared.http import StateCaller, TenantQuery, domain_errors, requires
from shared.service import ServiceContext

from . import service
from .models import (
    GoalCreate,
    GoalStatistics,
    GoalStatusChange,
    GoalWritten,
    PlanPublic,
    PlansGoal,
    PlansPlan,
)

PREFIX = "/api/plans/v1"
# Plans are case contents: node_admin (operations) and the state roles never see them.
PLAN_ROLES = ("manager", "lead")
Caller = Annotated[Principal, requires(*PLAN_ROLES)]


def may_see(principal: Principal, plan: PlansPlan) -> bool:
    """A lead sees the plans of their tenants; a manager only those of their own caseload."""
    if not can_see(principal, plan.tenant):
        return False
    return principal.has("lead") or plan.manager == principal.sub


def _plan(session: Session, principal: Principal, plan_id: str,
          for_update: bool = False) -> PlansPlan:
    """The caller's plan; one they may not see answers exactly like a missing one."""
    plan = service.get_plan(session, plan_id=plan_id, for_update=for_update)
    if not may_see(principal, plan):
        raise service.NotFound("plan not found")
    return plan


def _written(goal: PlansGoal, plan: PlansPlan) -> GoalWritten:
    return GoalWritten.model_validate({**goal.model_dump(), "plan_version": plan.version})


def router(ctx: ServiceContext) -> APIRouter:
    """The service's routes for this node's level: plans on municipal nodes, statistics at state."""
    api = APIRouter(prefix=PREFIX, tags=["plans"])
    if ctx.settings.level == "state":
        api.include_router(state_routes(ctx))
    else:
        api.include_router(municipal_routes(ctx))
    return api


def municipal_routes(ctx: ServiceContext) -> APIRouter:
    """A municipality's integration plans and their goals."""
    routes = APIRouter()
    db, node = ctx.database, ctx.node

    @routes.get("/plans", response_model=PlanPublic)
    def find_plan(principal: Caller,
                  case_id: Annotated[str, Query(min_length=1, max_length=100)]) -> PlanPublic:
        with domain_errors(), db.session() as session:
            plan = service.find_plan(session, case_id=case_id)
            if plan is None or not may_see(principal, plan):
                raise service.NotFound("no plan for this case")
            return PlanPublic.of(plan, service.goals_of(session, plan_id=plan.id))

    @routes.get("/plans/{plan_id}", response_model=PlanPublic)
    def get_plan(plan_id: str, principal: Caller) -> PlanPublic:
        with domain_errors(), db.session() as session:
            plan = _plan(session, principal, plan_id)
            return PlanPublic.of(plan, service.goals_of(session, plan_id=plan.id))

    @routes.post("/plans/{plan_id}/goals", status_code=201, response_model=GoalWritten)
    def add_goal(plan_id: str, body: GoalCreate, principal: Caller) -> GoalWritten:
        with domain_errors(), db.session() as session:
            plan = _plan(session, principal, plan_id, for_update=True)
            goal = service.add_goal(session, plan=plan, area=body.area, title=body.title,
                                    target_date=body.target_date, actor=principal.sub, node=node)
            session.commit()
        return _written(goal, plan)

    @routes.patch("/plans/{plan_id}/goals/{goal_id}", response_model=GoalWritten)
    def change_goal_status(plan_id: str, goal_id: str, body: GoalStatusChange,
                           principal: Caller) -> GoalWritten:
        with domain_errors(), db.session() as session:
            plan = _plan(session, principal, plan_id, for_update=True)
            goal = service.get_goal(session, plan=plan, goal_id=goal_id)
            if service.change_goal_status(session, plan=plan, goal=goal, status=body.status,
                                          node=node):
                session.commit()
        return _written(goal, plan)

    return routes


def state_routes(ctx: ServiceContext) -> APIRouter:
    """The statewide, pseudonymous view: goal progress with small cells suppressed."""
    routes = APIRouter()
    db = ctx.database

    @routes.get("/statistics/goals", response_model=GoalStatistics)
    def goal_statistics(
        principal: StateCaller,
        tenant: TenantQuery = None,
    ) -> GoalStatistics:
        """Goals by area and status, statewide or for one municipality (AGS)."""
        with db.session() as session:
            table, clients = service.goal_statistics(session, tenant=tenant)
        return GoalStatistics.of(tenant, table, clients)

    return routes
