"""Steps under a plan's goals: who does what by when; a partner's step is a referral, counted at the state."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from shared.errors import InvalidInput, NotFound
from shared.events.plans import STEP_STATUSES, PartnerType, PlanReferralChanged, StepActor, StepStatus
from shared.ids import new_id

from .models import AuditAction, Goal, Plan, Step
from .service import KEEP, Keep, apply_changes, audit, changed_content, emit_plan_event, writable
from .statistics import ReferralStatistics, primary, referral_table


def steps_of(session: Session, *, goal_ids: list[str]) -> dict[str, list[Step]]:
    """The goals' steps by goal, oldest first (ids are time-ordered)."""
    by_goal: dict[str, list[Step]] = {g: [] for g in goal_ids}
    if goal_ids:
        query = select(Step).where(col(Step.goal_id).in_(goal_ids)).order_by(col(Step.id))
        for step in session.exec(query).all():
            by_goal[step.goal_id].append(step)
    return by_goal


def get_step(session: Session, *, goal: Goal, step_id: str) -> Step:
    """A step of this goal; a step of another goal is not found here."""
    step = session.get(Step, step_id)
    if step is None or step.goal_id != goal.id:
        raise NotFound("step not found")
    return step


def _announce_referral(session: Session, plan: Plan, goal: Goal, step: Step, node: str) -> None:
    if step.who != StepActor.partner or step.partner_type is None:
        return
    emit_plan_event(session, plan, PlanReferralChanged(
        plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, step_id=step.id, manager=plan.manager,
        area=goal.area, partner_type=PartnerType(step.partner_type), status=StepStatus(step.status),
        plan_version=plan.version), node)


def add_step(
    session: Session, *, plan: Plan, goal: Goal, what: str, who: StepActor, partner_type: PartnerType | None,
    due_on: date | None, status: StepStatus | None, actor: str, node: str,
) -> Step:
    """Add a step to a goal; a partner's step is a referral (PlanReferralChanged, without its text)."""
    writable(plan)
    audit(session, actor=actor, action=AuditAction.add_step, plan=plan, detail=goal.id)
    step = Step(id=new_id(), goal_id=goal.id, what=what, who=who, partner_type=partner_type, due_on=due_on,
                status=status or STEP_STATUSES[who][0], created_by=actor[:255])
    changed_content(plan)
    session.add_all([step, plan])
    _announce_referral(session, plan, goal, step, node)
    return step


def change_step(
    session: Session, *, plan: Plan, goal: Goal, step: Step, actor: str, node: str, what: str | None = None,
    due_on: date | None | Keep = KEEP, status: StepStatus | None = None,
) -> bool:
    """Change a step's text, date or status; False when nothing differed (then no version moves)."""
    writable(plan)
    audit(session, actor=actor, action=AuditAction.change_step, plan=plan, detail=step.id)
    if status is not None and status not in STEP_STATUSES[StepActor(step.who)]:
        allowed = ", ".join(STEP_STATUSES[StepActor(step.who)])
        raise InvalidInput("status", f"a {step.who} step is one of {allowed}")
    changed = apply_changes(session, plan, step, what=what, status=status, due_on=due_on)
    if "status" in changed:
        _announce_referral(session, plan, goal, step, node)
    return bool(changed)


def referral_statistics(session: Session, *, tenant: str) -> ReferralStatistics:
    """The tenant's referrals by partner type and status and its clients referred, as the state counts them."""

    def of_tenant(query: Any) -> Any:  # the tenant's partner steps, through their goals and plans
        return (query.join(Goal, col(Goal.id) == col(Step.goal_id)).join(Plan, col(Plan.id) == col(Goal.plan_id))
                .where(col(Plan.tenant) == tenant, col(Step.who) == StepActor.partner))

    rows = session.exec(of_tenant(select(Step.partner_type, Step.status, func.count()))
                        .group_by(Step.partner_type, Step.status)).all()
    clients = session.exec(of_tenant(select(func.count(func.distinct(Plan.case_id))).select_from(Step))).one()
    return ReferralStatistics.of(tenant, referral_table([(str(p), str(st), n) for p, st, n in rows]), primary(clients))
