"""The plans' part of a case's erasure (CaseErased): the plan's texts and dates about the person go.

What stays is what the figures count: the plan's status and version numbers, its goals by area and status,
its steps by actor, partner type and status, how many versions were agreed and when they were recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db import Database, permitted, wipe_after_commit
from shared.events import utcnow
from shared.sealing import shred_after_commit, shred_erased

from . import stand_ins
from .models import AuditEntry, ErasurePermit, Goal, Plan, PlanVersion, Step
from .service import PlanNotYetKnown, find_plan

if TYPE_CHECKING:
    from shared.service import Background, ServiceContext

log = logging.getLogger(__name__)


def erase_plan(session: Session, *, case_id: str, tenant: str, erased_on: date) -> Plan:
    """Erase the texts and personal dates of the case's plan; a plan erased already stays as it is."""
    plan = find_plan(session, case_id=case_id, for_update=True)
    if plan is None or plan.tenant != tenant:
        raise PlanNotYetKnown(f"no plan for case {case_id} in tenant {tenant} yet")  # the bus retries
    if plan.erased_on is not None:
        return plan
    goal_ids = list(session.exec(select(Goal.id).where(Goal.plan_id == plan.id)).all())
    session.execute(sa.update(Goal).where(col(Goal.plan_id) == plan.id).values(title="", target_date=None))
    if goal_ids:
        session.execute(sa.update(Step).where(col(Step.goal_id).in_(goal_ids)).values(what="", due_on=None))
    # The agreed versions stay counted; their snapshots (the goals' and steps' texts) and language go.
    session.execute(sa.update(PlanVersion).where(col(PlanVersion.plan_id) == plan.id)
                    .values(snapshot={"goals": []}, language=""))
    plan.last_contact_on = plan.review_on = None
    plan.erased_on, plan.updated_at = erased_on, utcnow()
    session.add(plan)
    stand_ins.forget(session, case_id=case_id)
    with permitted(session, ErasurePermit):
        session.execute(sa.update(AuditEntry).where(col(AuditEntry.case_id) == case_id).values(detail=None))
    wipe_after_commit(session)  # the overwritten texts leave the file, too
    shred_after_commit(session, [plan.id, *goal_ids])  # and every copy of the sealed fields becomes unreadable
    return plan


def shred_leftovers(db: Database) -> int:
    """Destroy the keys of erased plans and their goals that outlived the erasure (a crash after its commit)."""
    with db.session() as session:
        plans = list(session.exec(select(Plan.id).where(col(Plan.erased_on).is_not(None))).all())
        goals = list(session.exec(select(Goal.id).where(col(Goal.plan_id).in_(plans))).all()) if plans else []
    return shred_erased(db, [*plans, *goals])


def background(ctx: ServiceContext) -> list[Background]:
    """At start: destroy the keys an interrupted erasure left behind."""
    db = ctx.database

    async def run() -> None:
        try:
            if shredded := await asyncio.to_thread(shred_leftovers, db):
                log.warning("destroyed %s keys of erased plans left after an interrupted erasure", shredded)
        except Exception:
            log.exception("could not destroy the keys of erased plans; the next start tries again")

    return [run]
