"""The plans domain at municipal level: a plan per case, its goals, the case's consultations and closure."""

from __future__ import annotations

import logging
from datetime import date
from enum import Enum

from sqlmodel import Session, col, func, select

from shared.bus import emit
from shared.errors import Conflict, NotFound
from shared.events import STREAMS, Contract, utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PlanGoalAdded, PlanGoalStatusChanged
from shared.ids import new_id

from .models import Goal, Plan, PlanStatus
from .statistics import GoalStatistics, goal_table, primary

log = logging.getLogger(__name__)


class PlanNotYetKnown(Exception):
    """An event refers to a case whose plan this node has not created (yet): the bus retries it."""


class IncompleteEvent(ValueError):
    """An event lacks what this level needs from it (retried, then dead-lettered)."""


def _emit(session: Session, plan: Plan, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["plans"], tenant=plan.tenant, node=node,
         aggregate_id=plan.id)


def _bump(plan: Plan) -> None:
    plan.version += 1
    plan.updated_at = utcnow()


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
def _writable(plan: Plan) -> None:
    # A closed plan stays readable as the record of the work done, but takes no goal writes.
    if plan.status == PlanStatus.closed:
        raise Conflict("plan is closed: the case was closed on "
                       f"{plan.closed_on.isoformat() if plan.closed_on else 'an unknown day'}")


def add_goal(
    session: Session, *, plan: Plan, area: Topic, title: str, target_date: date | None,
    actor: str, node: str,
) -> Goal:
    """Add an open goal (PlanGoalAdded, without its title); the first goal makes a draft active."""
    _writable(plan)
    goal = Goal(id=new_id(), plan_id=plan.id, area=area, title=title, target_date=target_date,
                status=GoalStatus.open, created_by=actor[:255])
    if plan.status == PlanStatus.draft:
        plan.status = PlanStatus.active
    _bump(plan)
    session.add_all([goal, plan])
    _emit(session, plan, PlanGoalAdded(
        plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager, area=area,
        target_date=target_date, plan_version=plan.version), node)
    return goal


class Keep(Enum):
    """The target date a change leaves as it is (None clears it)."""

    keep = "keep"


KEEP = Keep.keep


def change_goal(
    session: Session, *, plan: Plan, goal: Goal, node: str, title: str | None = None,
    target_date: date | None | Keep = KEEP, status: GoalStatus | None = None,
) -> bool:
    """Change a goal's title, target date and/or status; False when nothing differed.

    One change moves the plan's version once, however many fields it touched; the same values
    again are a no-op answered 200 without a bump or an event, so a retried PATCH is harmless.
    Only a new status is an event (PlanGoalStatusChanged): the title is free text and never
    leaves here.
    """
    _writable(plan)
    previous = GoalStatus(goal.status)
    new_status = status is not None and status != previous
    new_title = title is not None and title != goal.title
    new_date = not isinstance(target_date, Keep) and target_date != goal.target_date
    if not (new_status or new_title or new_date):
        return False
    if status is not None:
        goal.status = status
    if title is not None:
        goal.title = title
    if not isinstance(target_date, Keep):
        goal.target_date = target_date
    goal.updated_at = utcnow()
    _bump(plan)
    session.add_all([goal, plan])
    # No event for a new target date yet: notifications' overdue watch keeps the date that
    # PlanGoalAdded announced (a PlanGoalRescheduled contract would carry the new one).
    if new_status:
        assert status is not None
        _emit(session, plan, PlanGoalStatusChanged(
            plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager,
            area=goal.area, previous_status=previous, status=status, plan_version=plan.version),
            node)
    return True


def change_goal_status(
    session: Session, *, plan: Plan, goal: Goal, status: GoalStatus, node: str,
) -> bool:
    """Set the goal's status (PlanGoalStatusChanged); False when it already had it."""
    return change_goal(session, plan=plan, goal=goal, status=status, node=node)


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
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.last_contact_on is None or held_on > plan.last_contact_on:
        plan.last_contact_on, plan.updated_at = held_on, utcnow()
        session.add(plan)
    return plan


def close_plan(session: Session, *, case_id: str, tenant: str, closed_on: date) -> Plan:
    """Close the plan with its case (version + 1); closing a closed plan changes nothing."""
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.status != PlanStatus.closed:
        plan.status, plan.closed_on = PlanStatus.closed, closed_on
        _bump(plan)
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
