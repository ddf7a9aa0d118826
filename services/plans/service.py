"""The plans domain: a plan per case, its goals, the case's consultations and closure."""

from __future__ import annotations

import logging
from datetime import date

from sqlmodel import Session, col, func, select
from ulid import ULID

from shared import http
from shared.bus import emit
from shared.events import STREAMS, Contract, utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PlanGoalAdded, PlanGoalStatusChanged

from .models import AREAS, GOAL_STATUSES, PSEUDONYM_MAX, PlansGoal, PlansPlan, PlansStateGoal
from .statistics import CrossTable, Masked, cross_table, primary

log = logging.getLogger(__name__)


class NotFound(http.NotFound):
    """No such object (or not one the caller may see)."""


class Conflict(http.Conflict):
    """The request is valid but the plan's state does not allow it; the message says why."""


class PlanNotYetKnown(Exception):
    """An event refers to a case whose plan this node has not created (yet)."""


class IncompleteEvent(ValueError):
    """An event lacks what this level needs from it (retried, then dead-lettered)."""


def new_id() -> str:
    """A time-ordered id for a new record."""
    return str(ULID())


def _emit(session: Session, plan: PlansPlan, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["plans"], tenant=plan.tenant, node=node,
         aggregate_id=plan.id)


def _bump(plan: PlansPlan) -> None:
    plan.version += 1
    plan.updated_at = utcnow()


# -- reads ------------------------------------------------------------------------------------
def get_plan(session: Session, *, plan_id: str, for_update: bool = False) -> PlansPlan:
    """The plan, locked for the transaction when it is about to change (its version moves)."""
    plan = session.get(PlansPlan, plan_id, with_for_update=for_update)
    if plan is None:
        raise NotFound("plan not found")
    return plan


def find_plan(session: Session, *, case_id: str, for_update: bool = False) -> PlansPlan | None:
    """The plan of a case, if the plans service has seen the case opened."""
    query = select(PlansPlan).where(PlansPlan.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def goals_of(session: Session, *, plan_id: str) -> list[PlansGoal]:
    """The plan's goals, oldest first (ids are time-ordered)."""
    query = select(PlansGoal).where(PlansGoal.plan_id == plan_id).order_by(col(PlansGoal.id))
    return list(session.exec(query).all())


def get_goal(session: Session, *, plan: PlansPlan, goal_id: str) -> PlansGoal:
    goal = session.get(PlansGoal, goal_id)
    if goal is None or goal.plan_id != plan.id:
        raise NotFound("goal not found")
    return goal


# -- goals (API writes) -----------------------------------------------------------------------
def _writable(plan: PlansPlan) -> None:
    # A closed plan stays readable as the record of the work done, but takes no goal writes.
    if plan.status == "closed":
        raise Conflict("plan is closed: the case was closed on "
                       f"{plan.closed_on.isoformat() if plan.closed_on else 'an unknown day'}")


def add_goal(
    session: Session, *, plan: PlansPlan, area: Topic, title: str, target_date: date | None,
    actor: str, node: str,
) -> PlansGoal:
    """Add an open goal (PlanGoalAdded, without its title); the first goal makes a draft active."""
    _writable(plan)
    goal = PlansGoal(id=new_id(), plan_id=plan.id, area=area, title=title,
                     target_date=target_date, status="open", created_by=actor[:255])
    if plan.status == "draft":
        plan.status = "active"
    _bump(plan)
    session.add_all([goal, plan])
    _emit(session, plan, PlanGoalAdded(
        plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager, area=area,
        target_date=target_date, plan_version=plan.version), node)
    return goal


def change_goal_status(
    session: Session, *, plan: PlansPlan, goal: PlansGoal, status: GoalStatus, node: str,
) -> bool:
    """Set the goal's status (PlanGoalStatusChanged); False when it already had it.

    The same status again is a no-op answered 200 without a version bump or an event, so a
    retried PATCH is harmless and the plan's version counts only real changes.
    """
    _writable(plan)
    previous = goal.status
    if status == previous:
        return False
    goal.status, goal.updated_at = status, utcnow()
    _bump(plan)
    session.add_all([goal, plan])
    _emit(session, plan, PlanGoalStatusChanged(
        plan_id=plan.id, case_id=plan.case_id, goal_id=goal.id, manager=plan.manager,
        area=goal.area, previous_status=previous,  # type: ignore[arg-type]
        status=status, plan_version=plan.version), node)
    return True


# -- the case's life (events from the cases service) ------------------------------------------
def open_plan(session: Session, *, case_id: str, tenant: str, manager: str | None) -> PlansPlan:
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
    plan = PlansPlan(id=new_id(), case_id=case_id, tenant=tenant, manager=manager,
                     status="draft", version=1)
    session.add(plan)
    session.flush()  # a concurrent first delivery fails here, on the unique case_id, and retries
    return plan


def _plan_of_case(session: Session, *, case_id: str, tenant: str) -> PlansPlan:
    plan = find_plan(session, case_id=case_id, for_update=True)
    if plan is None or plan.tenant != tenant:
        raise PlanNotYetKnown(f"no plan for case {case_id} in tenant {tenant} yet")
    return plan


def record_contact(session: Session, *, case_id: str, tenant: str, held_on: date) -> PlansPlan:
    """Remember the latest consultation day; not a change of the plan, so its version stays."""
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.last_contact_on is None or held_on > plan.last_contact_on:
        plan.last_contact_on, plan.updated_at = held_on, utcnow()
        session.add(plan)
    return plan


def close_plan(session: Session, *, case_id: str, tenant: str, closed_on: date) -> PlansPlan:
    """Close the plan with its case (version + 1); closing a closed plan changes nothing."""
    plan = _plan_of_case(session, case_id=case_id, tenant=tenant)
    if plan.status != "closed":
        plan.status, plan.closed_on = "closed", closed_on
        _bump(plan)
        session.add(plan)
    return plan


# -- state level: the statewide, pseudonymous goal table --------------------------------------
def record_goal(
    session: Session, *, node: str, tenant: str, goal_pseudonym: str, case_pseudonym: str,
    area: Topic, status: GoalStatus, plan_version: int,
) -> bool:
    """Keep a goal's newest known area and status; False for an event older than what is stored.

    Every goal event carries the goal's area and status after it, so a status change that
    arrives before its PlanGoalAdded creates the row, and the late PlanGoalAdded is then ignored.
    """
    for name, value in (("goal_id", goal_pseudonym), ("case_id", case_pseudonym)):
        if not 0 < len(value) <= PSEUDONYM_MAX:
            raise IncompleteEvent(f"{name}: not a pseudonym of at most {PSEUDONYM_MAX} chars")
    goal = session.get(PlansStateGoal, (node, goal_pseudonym), with_for_update=True)
    if goal is None:
        session.add(PlansStateGoal(
            node=node, goal_pseudonym=goal_pseudonym, case_pseudonym=case_pseudonym,
            tenant=tenant, area=area, status=status, plan_version=plan_version))
        session.flush()  # a concurrent first delivery fails here, on the primary key, and retries
        return True
    if plan_version <= goal.plan_version:
        log.info("ignoring goal event of plan version %s for goal %s/%s at version %s",
                 plan_version, node, goal_pseudonym, goal.plan_version)
        return False
    goal.tenant, goal.area, goal.status = tenant, area, status
    goal.plan_version, goal.updated_at = plan_version, utcnow()
    session.add(goal)
    return True


def goal_statistics(
    session: Session, *, tenant: str | None,
) -> tuple[CrossTable[str, str], Masked]:
    """Goals by area and status (statewide or one tenant's) and the distinct clients with goals."""
    where = [PlansStateGoal.tenant == tenant] if tenant is not None else []
    rows = session.exec(
        select(PlansStateGoal.area, PlansStateGoal.status, func.count())
        .where(*where).group_by(PlansStateGoal.area, PlansStateGoal.status)).all()
    # Pseudonyms are per node (each node has its own key): a client is a (node, case) pair.
    clients = select(PlansStateGoal.node, PlansStateGoal.case_pseudonym).where(*where).distinct()
    n_clients = session.exec(select(func.count()).select_from(clients.subquery())).one()
    counts = {(area, status): n for area, status, n in rows}
    return cross_table(counts, AREAS, GOAL_STATUSES), primary(n_clients)
