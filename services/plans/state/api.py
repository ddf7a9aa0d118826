"""HTTP routes of the plans service at state level: goal statistics, small cells suppressed."""

from __future__ import annotations

from fastapi import APIRouter

from shared.http import StateCaller, TenantQuery

from ..deps import SessionDep
from ..statistics import GoalStatistics, ReferralStatistics
from . import service

router = APIRouter(prefix="/api/plans/v1", tags=["plans"])


@router.get("/statistics/goals", response_model=GoalStatistics)
def goal_statistics(principal: StateCaller, session: SessionDep,
                    tenant: TenantQuery = None) -> GoalStatistics:
    """Goals by area and status, statewide or for one municipality (AGS)."""
    table, clients = service.goal_statistics(session, tenant=tenant)
    return GoalStatistics.of(tenant, table, clients)


@router.get("/statistics/referrals", response_model=ReferralStatistics)
def referral_statistics(principal: StateCaller, session: SessionDep,
                        tenant: TenantQuery = None) -> ReferralStatistics:
    """Referrals to partner services by partner type and status, statewide or for one municipality (AGS)."""
    table, clients = service.referral_statistics(session, tenant=tenant)
    return ReferralStatistics.of(tenant, table, clients)
