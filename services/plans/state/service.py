"""The plans domain at state level: the statewide, pseudonymous goal and referral tables and their statistics."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, func, select

from shared import clock
from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PartnerType, StepStatus

from ..statistics import CrossTable, Masked, goal_table, primary, referral_table
from .models import PSEUDONYM_MAX, StateGoal, StateReferral

log = logging.getLogger(__name__)
Row = TypeVar("Row", StateGoal, StateReferral)


class NotAPseudonym(ValueError):
    """A goal event names its goal or case by something no node's pseudonym can be (dead-lettered)."""


def check_pseudonyms(**values: str) -> None:
    for name, value in values.items():
        if not 0 < len(value) <= PSEUDONYM_MAX:
            raise NotAPseudonym(f"{name}: not a pseudonym of at most {PSEUDONYM_MAX} chars")


def _keep_newest(session: Session, model: type[Row], key: tuple[str, str], plan_version: int,
                 values: dict[str, Any]) -> bool:
    """Insert the row, or update it unless the event is older than what is stored (False then)."""
    row = session.get(model, key, with_for_update=True)
    if row is None:
        session.add(model(**values, plan_version=plan_version))
        session.flush()  # a concurrent first delivery fails here, on the primary key, and retries
        return True
    if plan_version <= row.plan_version:
        log.info("ignoring %s event of plan version %s for %s at version %s",
                 model.__name__, plan_version, key, row.plan_version)
        return False
    for name, value in values.items():
        setattr(row, name, value)
    row.plan_version, row.updated_at = plan_version, utcnow()
    session.add(row)
    return True


def record_goal(
    session: Session, *, node: str, tenant: str, goal_pseudonym: str, case_pseudonym: str,
    area: Topic, status: GoalStatus, plan_version: int, changed_on: date | None = None,
) -> bool:
    """Keep a goal's newest known area and status, and the day its status was set (the event's `changed_on`,
    else today); False for an event older than what is stored.

    Every goal event carries the goal's area and status after it, so a status change that
    arrives before its PlanGoalAdded creates the row, and the late PlanGoalAdded is then ignored.
    """
    check_pseudonyms(goal_id=goal_pseudonym, case_id=case_pseudonym)
    row = session.get(StateGoal, (node, goal_pseudonym), with_for_update=True)
    since = row.status_changed_on if row is not None and row.status == status else changed_on or clock.today()
    return _keep_newest(session, StateGoal, (node, goal_pseudonym), plan_version, {
        "node": node, "goal_pseudonym": goal_pseudonym, "case_pseudonym": case_pseudonym, "tenant": tenant,
        "area": area, "status": status, "status_changed_on": since})


def record_referral(
    session: Session, *, node: str, tenant: str, step_pseudonym: str, case_pseudonym: str, area: Topic,
    partner_type: PartnerType, status: StepStatus, plan_version: int,
) -> bool:
    """Keep a referral's newest known partner type and status; False for an event older than what is stored."""
    check_pseudonyms(step_id=step_pseudonym, case_id=case_pseudonym)
    return _keep_newest(session, StateReferral, (node, step_pseudonym), plan_version, {
        "node": node, "step_pseudonym": step_pseudonym, "case_pseudonym": case_pseudonym, "tenant": tenant,
        "area": area, "partner_type": partner_type, "status": status})


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


def referral_statistics(
    session: Session, *, tenant: str | None,
) -> tuple[CrossTable[PartnerType, StepStatus], Masked]:
    """Referrals by partner type and status (statewide or one tenant's) and the distinct clients referred."""
    where = [StateReferral.tenant == tenant] if tenant is not None else []
    rows = session.exec(
        select(StateReferral.partner_type, StateReferral.status, func.count())
        .where(*where).group_by(StateReferral.partner_type, StateReferral.status)).all()
    clients = select(StateReferral.node, StateReferral.case_pseudonym).where(*where).distinct()
    n_clients = session.exec(select(func.count()).select_from(clients.subquery())).one()
    return referral_table(rows), primary(n_clients)
