"""Break-glass: a manager standing in for an absent colleague opens a case outside their caseload.

The manager states a reason; the grant lasts a bounded time (LOTSE_BREAK_GLASS_HOURS), every access under
it is marked in the audit trail with the grant's id, and the municipality's lead is told (BreakGlassOpened,
which names the case, the manager and the end, never the reason).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlmodel import Field, Session, SQLModel, col, select

from shared.auth import Principal, can_see
from shared.errors import Conflict
from shared.events import utcnow
from shared.events.cases import BreakGlassOpened
from shared.ids import new_id
from shared.privacy import ACCESS_LOG, AGS_CODE, ID, TIMESTAMP, DataClass, Retention, personal
from shared.sealing import SealedText, sealed

from .models import AuditAction, Case, CaseStatus
from .service import STAND_IN, _emit, audit

REASON_MIN, REASON_MAX = 10, 500
DEFAULT_HOURS = 3.0


@sealed
class BreakGlassGrant(SQLModel, table=True):
    """One stand-in's access to a case outside their caseload: who, why (sealed), from when until when."""

    __tablename__ = "cases_break_glass"
    __subject__ = "case_id"
    __not_personal__ = {"id": ID, "case_id": ID, "tenant": AGS_CODE, "opened_at": TIMESTAMP, "until": TIMESTAMP}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26, foreign_key="cases_case.id")
    tenant: str = Field(max_length=8)
    manager: str = personal(DataClass.staff, ACCESS_LOG, Retention.access_log, max_length=255)
    reason: str = personal(DataClass.access_log, "proving why a file outside the caseload was opened",
                           Retention.access_log, encrypted=True, sa_type=SealedText())
    opened_at: datetime = Field(default_factory=utcnow)
    until: datetime


TABLES = [BreakGlassGrant.__table__]  # type: ignore[attr-defined]


class BreakGlassRequest(BaseModel):
    """Body of POST /cases/{id}/break-glass: why the stand-in needs this file now."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=REASON_MIN, max_length=REASON_MAX),
                      pydantic.Field(strict=True)]


class BreakGlassPublic(BaseModel):
    """A grant as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    manager: str
    reason: str
    opened_at: datetime
    until: datetime


class NotAStandIn(Conflict):
    """The case needs no break-glass for this manager, or cannot be opened this way."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def active_grant(session: Session, *, case_id: str, manager: str, now: datetime) -> BreakGlassGrant | None:
    """The manager's grant on the case that is still running at `now`, if any."""
    grants = session.exec(select(BreakGlassGrant).where(
        BreakGlassGrant.case_id == case_id, BreakGlassGrant.manager == manager)
        .order_by(col(BreakGlassGrant.until).desc())).all()
    return next((g for g in grants if _aware(g.opened_at) <= now < _aware(g.until)), None)


def admits(session: Session, principal: Principal, case: Case, *, now: datetime | None = None) -> bool:
    """Whether a running grant lets this manager in; the request's audit rows then carry the grant."""
    if not principal.has("manager") or not can_see(principal, case.tenant):
        return False
    grant = active_grant(session, case_id=case.id, manager=principal.sub, now=now or utcnow())
    if grant is None:
        return False
    session.info.setdefault(STAND_IN, {})[case.id] = grant.id
    return True


def open_grant(session: Session, *, case: Case, manager: str, reason: str, hours: float, node: str,
               now: datetime | None = None) -> BreakGlassGrant:
    """Open a stand-in's access for `hours`, audited and announced to the lead (without the reason)."""
    if case.manager == manager:
        raise NotAStandIn("the case is in your own caseload: no break-glass needed")
    if case.status == CaseStatus.closed:
        raise NotAStandIn("the case is closed: a stand-in opens only open cases")
    now = now or utcnow()
    running = active_grant(session, case_id=case.id, manager=manager, now=now)
    if running is not None:
        raise NotAStandIn("you already have access to this case as a stand-in")
    grant = BreakGlassGrant(id=new_id(), case_id=case.id, tenant=case.tenant, manager=manager[:255],
                            reason=reason, opened_at=now, until=now + timedelta(hours=hours))
    session.add(grant)
    session.info.setdefault(STAND_IN, {})[case.id] = grant.id
    audit(session, actor=manager, action=AuditAction.break_glass, case=case,
          detail=f"until {grant.until:%Y-%m-%dT%H:%MZ}")
    _emit(session, case, BreakGlassOpened(case_id=case.id, manager=grant.manager, until=grant.until), node)
    return grant


def grants_of(session: Session, *, case_id: str) -> list[BreakGlassGrant]:
    """Every break-glass grant on the case, oldest first (for the lead and the access export)."""
    return list(session.exec(select(BreakGlassGrant).where(BreakGlassGrant.case_id == case_id)
                             .order_by(col(BreakGlassGrant.opened_at), col(BreakGlassGrant.id))).all())


def read_grants(session: Session, *, case: Case, actor: str) -> list[BreakGlassGrant]:
    """The grants as a lead reads them: a reading of the audit trail, and audited as one."""
    audit(session, actor=actor, action=AuditAction.read_audit, case=case, detail="break-glass")
    return grants_of(session, case_id=case.id)


def erase(session: Session, *, case_id: str) -> int:
    """Delete the case's break-glass grants, reasons included (erasure of the case); how many went."""
    grants = grants_of(session, case_id=case_id)
    for grant in grants:
        session.delete(grant)
    return len(grants)
