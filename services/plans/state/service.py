"""The plans domain at state level: the statewide, pseudonymous goal table and its statistics."""

from __future__ import annotations

import logging

from sqlmodel import Session, func, select

from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic

from ..statistics import CrossTable, Masked, goal_table, primary
from .models import PSEUDONYM_MAX, StateGoal

log = logging.getLogger(__name__)


class NotAPseudonym(ValueError):
    """A goal event names its goal or case by something no node's pseudonym can be (dead-lettered)."""


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
            raise NotAPseudonym(f"{name}: not a pseudonym of at most {PSEUDONYM_MAX} chars")
    goal = session.get(StateGoal, (node, goal_pseudonym), with_for_update=True)
    if goal is None:
        session.add(StateGoal(
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
) -> tuple[CrossTable[Topic, GoalStatus], Masked]:
    """Goals by area and status (statewide or one tenant's) and the distinct clients with goals."""
    where = [StateGoal.tenant == tenant] if tenant is not None else []
    rows = session.exec(
        select(StateGoal.area, StateGoal.status, func.count())
        .where(*where).group_by(StateGoal.area, StateGoal.status)).all()
    # Pseudonyms are per node (each node has its own key): a client is a (node, case) pair.
    clients = select(StateGoal.node, StateGoal.case_pseudonym).where(*where).distinct()
    n_clients = session.exec(select(func.count()).select_from(clients.subquery())).one()
    return goal_table(rows), primary(n_clients)
