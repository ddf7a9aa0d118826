"""HTTP routes of the cases service at state level: consultation statistics, small cells withheld."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.http import StateCaller, TenantQuery

from ..deps import QueryDate
from ..statistics import ConsultationStatistics
from . import outcomes, service
from .deps import SessionDep
from .outcomes import CaseOutcomes

router = APIRouter(prefix="/api/cases/v1", tags=["cases"])


@router.get("/statistics/consultations", response_model=ConsultationStatistics)
def consultation_statistics(
    principal: StateCaller, session: SessionDep,
    tenant: TenantQuery = None,
    from_: Annotated[QueryDate, Query(alias="from")] = None,
    to: Annotated[QueryDate, Query()] = None,
) -> ConsultationStatistics:
    """Consultations held from..to (inclusive), statewide or for one municipality (AGS)."""
    return service.consultation_statistics(session, tenant=tenant, from_=from_, to=to)


@router.get("/statistics/outcomes", response_model=CaseOutcomes)
def case_outcomes(
    principal: StateCaller, session: SessionDep, year: Annotated[int, Query(ge=1900, le=2999)],
    tenant: TenantQuery = None,
) -> CaseOutcomes:
    """One calendar year's case outcomes, statewide or for one municipality (AGS); small cells withheld."""
    return outcomes.case_outcomes(session, year=year, tenant=tenant)
