"""HTTP routes of the plans service at state level: goal, referral, agreement and outcome statistics, small cells
withheld."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.http import StateCaller, TenantQuery

from ..deps import SessionDep
from ..statistics import GoalStatistics, ReferralStatistics
from . import agreements, outcomes, service
from .agreements import AgreedPlans
from .outcomes import PlanOutcomes

router = APIRouter(prefix="/api/plans/v1", tags=["plans"])
YearQuery = Annotated[int, Query(ge=1900, le=2999)]


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


@router.get("/statistics/agreements", response_model=AgreedPlans)
def agreed_plans(principal: StateCaller, session: SessionDep, year: YearQuery,
                 tenant: TenantQuery = None) -> AgreedPlans:
    """Open cases at the year's end (today in the current year) and the share with an agreed plan, statewide or
    for one municipality (AGS); small counts withheld."""
    return agreements.agreed_plans(session, year=year, tenant=tenant)


@router.get("/statistics/outcomes", response_model=PlanOutcomes)
def plan_outcomes(principal: StateCaller, session: SessionDep, year: YearQuery,
                  tenant: TenantQuery = None) -> PlanOutcomes:
    """A year's agreed plans (as /statistics/agreements), goals achieved and dropped by area, and the months from the
    first consultation to independence, statewide or for one municipality (AGS); small counts withheld."""
    return outcomes.plan_outcomes(session, year=year, tenant=tenant)
