"""The plans domain at municipal level: a plan per case, its goals, the case's consultations and closure."""

from __future__ import annotations

import logging
from datetime import date
from enum import Enum
from typing import Any

from sqlmodel import Session, col, func, select

from shared.bus import emit
from shared.db import in_chunks
from shared.errors import Conflict, NotFound
from shared.events import STREAMS, Contract, utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PlanGoalAdded, PlanGoalRescheduled, PlanGoalStatusChanged
from shared.ids import new_id

from .models import AuditAction, AuditEntry, Goal, Plan, PlanStatus, Step
from .statistics import GoalStatistics, goal_table, primary

log = logging.getLogger(__name__)


class PlanNotYetKnown(Exception):
    """An event refers to a case whose plan this node has not created (yet): the bus retries it."""


class IncompleteEvent(ValueError):
    """An event lacks what this level needs from it (retried, then dead-lettered)."""


def emit_plan_event(session: Session, plan: Plan, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["plans"], tenant=plan.tenant, node=node,
         aggregate_id=plan.id)


def _bump(plan: Plan) -> None:
    plan.version += 1
    plan.updated_at = utcnow()


def changed_content(plan: Plan) -> None:
    """A goal or step changed: the version moves, and a change after an agreement opens a new draft."""
    _bump(plan)
    if plan.agreed_version == plan.agreement_version:
        plan.agreement_version += 1


# Session.info: {case id: stand-in access id} of the plans this request reaches through break-glass.
STAND_IN = "lotse_break_glass"


def audit(session: Session, *, actor: str, action: AuditAction, plan: Plan,
          detail: str | None = None) -> None:
    """Add an audit row in the caller's transaction: it commits with the access it records."""
    # An access through a stand-in's break-glass access carries its id (stand_ins.py).
    session.add(AuditEntry(actor=actor[:255], action=action, case_id=plan.case_id, plan_id=plan.id,
                           tenant=plan.tenant, detail=detail,
                           break_glass=session.info.get(STAND_IN, {}).get(plan.case_id)))


# -- reads ------------------------------------------------------------------------------------
def get_plan(session: Session, *, plan_id: str, for_update: bool = False) -> Plan:
    """The plan, locked for the transaction when it is about to change (its version moves)."""
    plan = session.get(Plan, plan_id, with_for_update=for_update)
    if plan is None:
        raise NotFound("plan not found")
    return plan


def find_plan(session: Session, *, case_id: str, for_update: bool = False) -> Plan | None:
    """The plan of a case, if the plans service has seen the case opened."""
    query = select(Plan).where(Plan.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def read_plan(session: Session, *, plan: Plan, actor: str) -> list[Goal]:
    """The plan's goals as the actor reads them (audited)."""
    audit(session, actor=actor, action=AuditAction.read, plan=plan)
    return goals_of(session, plan_id=plan.id)


def read_audit(session: Session, *, plan: Plan, actor: str, after: int | None,
               limit: int) -> tuple[list[AuditEntry], int | None]:
    """A page of the plan's audit trail, oldest first, and the next cursor (this reading included)."""
    audit(session, actor=actor, action=AuditAction.read_audit, plan=plan)
    session.flush()
    query = select(AuditEntry).where(AuditEntry.case_id == plan.case_id)
    if after is not None:
        query = query.where(col(AuditEntry.id) > after)
    rows = list(session.exec(query.order_by(col(AuditEntry.id)).limit(limit + 1)).all())
    page = rows[:limit]
    return page, page[-1].id if len(rows) > limit else None


def goals_of(session: Session, *, plan_id: str) -> list[Goal]:
    """The plan's goals, oldest first (ids are time-ordered)."""
    query = select(Goal).where(Goal.plan_id == plan_id).order_by(col(Goal.id))
    return list(session.exec(query).all())


def get_goal(session: Session, *, plan: Plan, goal_id: str) -> Goal:
    """A goal of this plan; a goal of another plan is not found here."""
    goal = session.get(Goal, goal_id)
    if goal is None or goal.plan_id != plan.id:
        raise NotFound("goal not found")
    return goal


# -- goals (API writes) -----------------------------------------------------------------------
def writable(plan: Plan) -> None:
    # A closed plan stays readable as the record of the work done, but takes no goal writes.
    if plan.status == PlanStatus.closed:
        raise Conflict("plan is closed: the case was closed on "
                       f"{plan.closed_on.isoformat() if plan.closed_on else 'an unknown day'}")


def add_goal(
    session: Session, *, plan: Plan, area: Topic, title: str, target_date: date | None,
    actor: str, node: str,
) -> Goal:
    """Add an open goal (PlanGoalAdded, without its title); the first goal makes a draft active."""
    writable(plan)
    goal = Goal(id=new_id(), plan_id=plan.id, area=area, title=title, target_date=target_date,
                status=GoalStatus.open, created_by=actor[:255])
    if plan.status == PlanStatus.draft:
        plan.status = PlanStatus.active
    changed_content(plan)
    session.add_all([goal, plan])
    audit(session, actor=actor, action=AuditAction.add_goal, plan=plan, detail=goal.id)
    emit_plan_event(session, plan, PlanGoalAdded(
        plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager, area=area,
        target_date=target_date, plan_version=plan.version), node)
    return goal


class Keep(Enum):
    """The target date a change leaves as it is (None clears it)."""

    keep = "keep"


KEEP = Keep.keep


def change_goal(
    session: Session, *, plan: Plan, goal: Goal, node: str, actor: str, title: str | None = None,
    target_date: date | None | Keep = KEEP, status: GoalStatus | None = None,
) -> bool:
    """Change a goal's title, target date and/or status; False when nothing differed.

    One change moves the plan's version once, however many fields it touched; the same values
    again are a no-op answered 200 without a bump or an event, so a retried PATCH is harmless.
    A new status is an event (PlanGoalStatusChanged), a new target date another (PlanGoalRescheduled,
    local); the title is free text and never leaves here.
    """
    writable(plan)
    audit(session, actor=actor, action=AuditAction.change_goal, plan=plan, detail=goal.id)
    previous = GoalStatus(goal.status)
    changed = apply_changes(session, plan, goal, title=title, status=status, target_date=target_date)
    if "target_date" in changed:  # local only: the overdue watch follows the new date; the state counts no dates
        emit_plan_event(session, plan, PlanGoalRescheduled(
            plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager, area=goal.area,
            status=goal.status, target_date=goal.target_date, plan_version=plan.version), node)
    if "status" in changed:
        emit_plan_event(session, plan, PlanGoalStatusChanged(
            plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager,
            area=goal.area, previous_status=previous, status=GoalStatus(goal.status), plan_version=plan.version),
            node)
    return bool(changed)


def apply_changes(session: Session, plan: Plan, row: Goal | Step, **given: Any) -> set[str]:
    """Set the given fields (None: not given; a date's KEEP: not given, None clears it); the names that changed.

    Any change moves the plan's version once, however many fields it touched.
    """
    changes = {name: value for name, value in given.items()
               if not isinstance(value, Keep) and (value is not None or name.endswith(("_date", "_on")))}
    changed = {name for name, value in changes.items() if getattr(row, name) != value}
    if changed:
        for name in changed:
            setattr(row, name, changes[name])
        row.updated_at = utcnow()
        changed_content(plan)
        session.add_all([row, plan])
    return changed


def change_goal_status(
    session: Session, *, plan: Plan, goal: Goal, status: GoalStatus, node: str, actor: str,
) -> bool:
    """Set the goal's status (PlanGoalStatusChanged); False when it already had it."""
    return change_goal(session, plan=plan, goal=goal, status=status, node=node, actor=actor)


# -- the case's life (events from the cases service) ------------------------------------------
def open_plan(session: Session, *, case_id: str, tenant: str, manager: str | None) -> Plan:
    """The case's plan, created as a draft at version 1 the first time the case is seen."""
    if manager is None:
        # Only the state projection lacks the manager; without one nobody could see the plan.
        raise IncompleteEvent(f"CaseOpened for case {case_id} names no manager")
    plan = find_plan(session, case_id=case_id)
    if plan is not None:
        if plan.tenant != tenant:
            log.warning("CaseOpened for case %s in tenant %s, but its plan belongs to %s",
                        case_id, tenant, plan.tenant)
        return plan
    plan = Plan(id=new_id(), case_id=case_id, tenant=tenant, manager=manager,
                status=PlanStatus.draft, version=1)
    session.add(plan)
    session.flush()  # a concurrent first delivery fails here, on the unique case_id, and retries
    return plan


def _plan_of_case(session: Session, *, case_id: str, tenant: str) -> Plan:
    plan = find_plan(session, case_id=case_id, for_update=True)
    if plan is None or plan.tenant != tenant:
        raise PlanNotYetKnown(f"no plan for case {case_id} in tenant {tenant} yet")
    return plan


def record_contact(session: Session, *, case_id: str, tenant: str, held_on: date) -> Plan:
    """Remember the latest consultation day; not a change of the plan, so its version stays."""
    return record_contacts(session, [(case_id, tenant, held_on)])[0]


def record_contacts(session: Session, contacts: list[tuple[str, str, date]]) -> list[Plan]:
    """A run of consultations, each (case, tenant, day held): every plan's latest contact day, the run's plans
    read and locked in one query per 500 cases. A case whose plan is not known yet fails the run (retried)."""
    case_ids = list(dict.fromkeys(case_id for case_id, _, _ in contacts))
    plans: dict[str, Plan] = {}
    for chunk in in_chunks(case_ids):
        query = select(Plan).where(col(Plan.case_id).in_(chunk)).with_for_update()
        plans.update({plan.case_id: plan for plan in session.exec(query)})
    now, touched = utcnow(), []
    for case_id, tenant, held_on in contacts:
        plan = plans.get(case_id)
        if plan is None or plan.tenant != tenant:
            raise PlanNotYetKnown(f"no plan for case {case_id} in tenant {tenant} yet")
        if plan.last_contact_on is None or held_on > plan.last_contact_on:
            plan.last_contact_on, plan.updated_at = held_on, now
            session.add(plan)
        touched.append(plan)
    return touched


def close_plan(session: Session, *, case_id: str, tenant: str, closed_on: date) -> Plan:
    """Close the plan with its case (version + 1); closing a closed plan changes nothing."""
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.status != PlanStatus.closed:
        plan.status, plan.closed_on = PlanStatus.closed, closed_on
        _bump(plan)
        session.add(plan)
    return plan


def reassign_plan(session: Session, *, case_id: str, tenant: str, manager: str) -> Plan:
    """The plan follows its case to another manager (not a change of its content: the versions stay)."""
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.manager != manager:
        plan.manager, plan.updated_at = manager[:255], utcnow()
        session.add(plan)
    return plan


# -- the lead's figures -----------------------------------------------------------------------
def goal_statistics(session: Session, *, tenant: str) -> GoalStatistics:
    """The tenant's goals by area and status and its clients with goals, as the state counts them."""
    of_plan, ours = col(Goal.plan_id) == col(Plan.id), col(Plan.tenant) == tenant
    rows = session.exec(select(Goal.area, Goal.status, func.count()).join(Plan, of_plan)
                        .where(ours).group_by(Goal.area, Goal.status)).all()
    # One plan per case: a client with goals is a case whose plan has a goal.
    n_clients = session.exec(select(func.count(func.distinct(Plan.case_id)))
                             .select_from(Plan).join(Goal, of_plan).where(ours)).one()
    return GoalStatistics.of(tenant, goal_table(rows), primary(n_clients))
