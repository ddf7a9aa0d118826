"""Break-glass reaches the plan too: a manager standing in for an absent colleague (BreakGlassOpened from the
cases service) reads and works on the case's plan until the access ends; every access is marked in the plan's
audit trail with the access's id, as the case file's are."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from shared.auth import Principal, can_see

from .models import Plan, StandIn
from .service import STAND_IN


def remember(session: Session, *, event_id: str, case_id: str, tenant: str, manager: str, until: datetime) -> None:
    """Note a stand-in's access (once per event: a redelivery changes nothing)."""
    if session.get(StandIn, event_id) is None:
        session.add(StandIn(id=event_id, case_id=case_id, tenant=tenant, manager=manager[:255], until=until))


def admits(session: Session, principal: Principal, plan: Plan, *, now: datetime | None = None) -> bool:
    """Whether a running stand-in access lets this manager in; the request's audit rows then carry it."""
    if not principal.has("manager") or not can_see(principal, plan.tenant):
        return False
    moment = now or datetime.now(UTC)
    access = session.exec(select(StandIn).where(
        StandIn.case_id == plan.case_id, StandIn.manager == principal.sub, StandIn.tenant == plan.tenant)
        .order_by(col(StandIn.until).desc())).first()
    if access is None:
        return False
    until = access.until if access.until.tzinfo else access.until.replace(tzinfo=UTC)  # SQLite keeps no zone
    if until <= moment:
        return False
    session.info.setdefault(STAND_IN, {})[plan.case_id] = access.id
    return True


def forget(session: Session, *, case_id: str) -> None:
    """The case's stand-in accesses go with its erasure."""
    for row in session.exec(select(StandIn).where(StandIn.case_id == case_id)).all():
        session.delete(row)
