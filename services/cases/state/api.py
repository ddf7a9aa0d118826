"""HTTP routes of the cases service at state level: consultation statistics, small cells withheld."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from shared.fields import iso_date_only
from shared.http import StateCaller, TenantQuery

from . import service
from .deps import SessionDep
from .statistics import ConsultationStatistics

# A query date that may be absent; when given, only YYYY-MM-DD (not a Unix timestamp).
QueryDate = Annotated[date | None, BeforeValidator(iso_date_only)]
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
