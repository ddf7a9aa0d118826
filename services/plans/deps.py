"""What the plans routes depend on: the unit of work, the caller, the plan and goal already authorised."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from sqlmodel import Session

from shared.auth import Principal, can_see, tenant_for_write
from shared.errors import NotFound
from shared.http import TenantQuery, context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service, stand_ins, steps
from .models import Goal, Plan, Step

SessionDep = Annotated[Session, session_dependency("plans")]
ContextDep = Annotated[ServiceContext, Depends(context_of("plans"))]
# Plans are case contents: node_admin (operations) and the state roles never see them.
Caller = Annotated[Principal, requires("manager", "lead")]
Lead = Annotated[Principal, requires("lead")]
Auditor = Lead  # a plan's audit trail is for the lead, like the case's
CaseId = Annotated[str, Query(min_length=1, max_length=100)]


def may_see(principal: Principal, plan: Plan) -> bool:
    """A lead sees the plans of their tenants; a manager only those of their own caseload."""
    if not can_see(principal, plan.tenant):
        return False
    return principal.has("lead") or plan.manager == principal.sub


def _visible(session: Session, principal: Principal, plan: Plan | None, message: str) -> Plan:
    # One the caller may not see answers exactly like a missing one; an erased one exists no more.
    if plan is None or plan.erased_on is not None:
        raise NotFound(message)
    # A stand-in's running break-glass access admits them; their accesses are marked in the audit trail.
    if not may_see(principal, plan) and not stand_ins.admits(session, principal, plan):
        raise NotFound(message)
    return plan


def current_plan(plan_id: str, session: SessionDep, principal: Caller) -> Plan:
    """The caller's plan, to read."""
    return _visible(session, principal, service.get_plan(session, plan_id=plan_id), "plan not found")


def plan_to_change(plan_id: str, session: SessionDep, principal: Caller) -> Plan:
    """The caller's plan, locked for the transaction: a goal write moves its version."""
    plan = service.get_plan(session, plan_id=plan_id, for_update=True)
    return _visible(session, principal, plan, "plan not found")


def plan_of_case(case_id: CaseId, session: SessionDep, principal: Caller) -> Plan:
    """The plan of a case the caller may see."""
    return _visible(session, principal, service.find_plan(session, case_id=case_id), "no plan for this case")


def audited_plan(case_id: CaseId, session: SessionDep, principal: Auditor) -> Plan:
    """The plan whose audit trail a lead reads: the role first (403), then visibility (404)."""
    return _visible(session, principal, service.find_plan(session, case_id=case_id), "no plan for this case")


CurrentPlan = Annotated[Plan, Depends(current_plan)]
PlanToChange = Annotated[Plan, Depends(plan_to_change)]
PlanOfCase = Annotated[Plan, Depends(plan_of_case)]
AuditedPlan = Annotated[Plan, Depends(audited_plan)]


def current_goal(goal_id: str, plan: PlanToChange, session: SessionDep) -> Goal:
    """A goal of the caller's (locked) plan; the plan is found, or refused, first."""
    return service.get_goal(session, plan=plan, goal_id=goal_id)


CurrentGoal = Annotated[Goal, Depends(current_goal)]


def figures_tenant(principal: Lead, ctx: ContextDep, tenant: TenantQuery = None) -> str:
    """The municipality whose figures a lead reads: `tenant`, or their only one on this node (else 422)."""
    return tenant_for_write(principal, tenant, ctx.settings.tenants)


FiguresTenant = Annotated[str, Depends(figures_tenant)]


def current_step(step_id: str, goal: CurrentGoal, session: SessionDep) -> Step:
    """A step of the caller's goal; the plan and the goal are found, or refused, first."""
    return steps.get_step(session, goal=goal, step_id=step_id)


CurrentStep = Annotated[Step, Depends(current_step)]
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000)]
PrintLanguage = Annotated[Literal["de", "ar", "fa", "uk", "ru", "tr", "en"],
                          Query(description="the client's language beside German")]
