"""HTTP routes of a municipality's case files: parse, authorise (dependencies), call service.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.auth import tenant_for_write
from shared.ids import ULID_PATTERN

from . import service
from .deps import (
    AuditedCase,
    Auditor,
    Caller,
    CaseToChange,
    ContextDep,
    CurrentCase,
    FiguresTenant,
    QueryDate,
    SessionDep,
)
from .models import (
    AuditEntryPublic,
    AuditPage,
    Case,
    CaseClose,
    CaseCreate,
    CasePage,
    CasePublic,
    CaseStatus,
    Consultation,
    ConsultationCreate,
    ConsultationPublic,
)
from .statistics import ConsultationStatistics

# Every read and write of a case file leaves a row in its audit trail (service.py writes it).
router = APIRouter(prefix="/api/cases/v1", tags=["cases"])


@router.post("/cases", status_code=201, response_model=CasePublic)
def open_case(body: CaseCreate, principal: Caller, session: SessionDep, ctx: ContextDep) -> Case:
    """Open a case file in the caller's caseload."""
    tenant = tenant_for_write(principal, body.tenant, ctx.settings.tenants)
    return service.open_case(
        session, tenant=tenant, manager=principal.sub, given_name=body.given_name,
        family_name=body.family_name, birth_date=body.birth_date, nationality=body.nationality,
        languages=body.languages, household_size=body.household_size,
        accommodation_since=body.accommodation_since, node=ctx.node)


@router.get("/cases", response_model=CasePage)
def list_cases(
    principal: Caller, session: SessionDep, ctx: ContextDep,
    status: CaseStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=26, pattern=ULID_PATTERN)] = None,
) -> CasePage:
    """The caller's cases: a lead's tenants' cases, a manager's own caseload; oldest first."""
    page, next_cursor = service.list_cases(
        session, tenants=principal.tenants.intersection(ctx.settings.tenants),
        manager=None if principal.has("lead") else principal.sub, status=status,
        after=cursor, limit=limit, actor=principal.sub)
    return CasePage(items=[CasePublic.model_validate(c) for c in page], next_cursor=next_cursor)


@router.get("/cases/{case_id}", response_model=CasePublic)
def read_case(case: CurrentCase, principal: Caller, session: SessionDep) -> Case:
    """One case file."""
    return service.read_case(session, case=case, actor=principal.sub)


@router.post("/cases/{case_id}/consultations", status_code=201, response_model=ConsultationPublic)
def record_consultation(body: ConsultationCreate, case: CaseToChange, principal: Caller,
                        session: SessionDep, ctx: ContextDep) -> Consultation:
    """Record a consultation held with the client of an open case."""
    return service.record_consultation(
        session, case=case, held_on=body.held_on, duration_minutes=body.duration_minutes,
        mode=body.mode, topics=body.topics, note=body.note, actor=principal.sub, node=ctx.node)


@router.get("/cases/{case_id}/consultations", response_model=list[ConsultationPublic])
def list_consultations(case: CurrentCase, principal: Caller,
                       session: SessionDep) -> list[Consultation]:
    """The case's consultations in the order they were held."""
    return service.consultations_of(session, case=case, actor=principal.sub)


@router.post("/cases/{case_id}/close", response_model=CasePublic)
def close_case(body: CaseClose, case: CaseToChange, principal: Caller, session: SessionDep,
               ctx: ContextDep) -> Case:
    """Close an open case with its reason."""
    return service.close_case(session, case=case, reason=body.reason, actor=principal.sub,
                              node=ctx.node)


@router.get("/cases/{case_id}/audit", response_model=AuditPage)
def read_audit(
    case: AuditedCase, principal: Auditor, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> AuditPage:
    """A page of the case's audit trail, oldest first (this reading included)."""
    rows, next_cursor = service.read_audit(session, case=case, actor=principal.sub, after=cursor,
                                           limit=limit)
    return AuditPage(items=[AuditEntryPublic.model_validate(r) for r in rows],
                     next_cursor=next_cursor)


@router.get("/statistics/consultations", response_model=ConsultationStatistics)
def consultation_statistics(
    tenant: FiguresTenant, session: SessionDep,
    from_: Annotated[QueryDate, Query(alias="from")] = None,
    to: Annotated[QueryDate, Query()] = None,
) -> ConsultationStatistics:
    """A lead's municipality (`tenant`; optional for a lead of one): consultations from..to, as the state counts."""
    return service.consultation_statistics(session, tenant=tenant, from_=from_, to=to)
