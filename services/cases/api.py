"""HTTP routes of a municipality's case files: parse, authorise (dependencies), call service.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.auth import tenant_for_write
from shared.http import CursorQuery, TenantQuery, sees_its_record
from shared.ids import ULID_PATTERN

from . import erasure_api, handover_api, privacy_api, search, service
from .changes import CaseUpdate, CounsellingExtension, Reassignment
from .deps import (
    AuditedCase,
    Auditor,
    Caller,
    CaseToChange,
    ContextDep,
    CurrentCase,
    FiguresTenant,
    Lead,
    LeadsCase,
    QueryDate,
    SearchTerm,
    SessionDep,
)
from .models import (
    AuditEntryPublic,
    AuditPage,
    Case,
    CaseClose,
    CaseCreate,
    Caseload,
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
        household_members=body.household_members, eligibility=body.eligibility,
        eligible_since=body.eligible_since, accommodation_since=body.accommodation_since,
        node=ctx.node)


@router.get("/cases", response_model=CasePage)
@sees_its_record(when=lambda request: "q" in request.query_params)  # the search log its result points to
def list_cases(
    principal: Caller, session: SessionDep, ctx: ContextDep,
    status: CaseStatus | None = None,
    manager: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    q: SearchTerm = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=26, pattern=ULID_PATTERN)] = None,
) -> CasePage:
    """The caller's cases: a lead's tenants' (`manager` narrows them), a manager's own; `q` searches them by name
    or birth date (the search is logged for the audit); oldest first."""
    tenants = principal.tenants.intersection(ctx.settings.tenants)
    narrowed = manager if principal.has("lead") else principal.sub
    if q is not None:
        page, next_cursor = search.search_cases(session, term=q, tenants=tenants, manager=narrowed, status=status,
                                                after=cursor, limit=limit, actor=principal.sub)
    else:
        page, next_cursor = service.list_cases(session, tenants=tenants, manager=narrowed, status=status,
                                               after=cursor, limit=limit, actor=principal.sub)
    return CasePage(items=[CasePublic.model_validate(c) for c in page], next_cursor=next_cursor)


@router.get("/caseloads", response_model=list[Caseload])
def caseloads(principal: Lead, session: SessionDep, ctx: ContextDep, tenant: TenantQuery = None) -> list[Caseload]:
    """Each manager's open and closed cases in the lead's municipalities, or in `tenant` (counts only, not audited)."""
    tenants = principal.tenants.intersection(ctx.settings.tenants)
    return service.caseloads(session, tenants=tenants if tenant is None else tenants.intersection({tenant}))


@router.get("/cases/{case_id}", response_model=CasePublic)
def read_case(case: CurrentCase, principal: Caller, session: SessionDep) -> Case:
    """One case file."""
    return service.read_case(session, case=case, actor=principal.sub)


@router.patch("/cases/{case_id}", response_model=CasePublic)
def change_case(body: CaseUpdate, case: CaseToChange, principal: Caller, session: SessionDep) -> Case:
    """Correct the client's personal data (any of the fields; audited, never announced)."""
    return service.change_case(session, case=case, changes=body.changes(), actor=principal.sub)


@router.post("/cases/{case_id}/reassign", response_model=CasePublic)
def reassign_case(body: Reassignment, case: LeadsCase, principal: Caller, session: SessionDep,
                  ctx: ContextDep) -> Case:
    """A lead hands an open case to another manager of the municipality."""
    return service.reassign(session, case=case, manager=body.manager, actor=principal.sub, node=ctx.node)


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


@router.post("/cases/{case_id}/counselling-extension", response_model=CasePublic)
def extend_counselling(body: CounsellingExtension, case: LeadsCase, principal: Caller,
                       session: SessionDep, ctx: ContextDep) -> Case:
    """A lead extends the counselling clock once, to four years after the first consultation."""
    return service.extend_counselling(session, case=case, justification=body.justification,
                                      actor=principal.sub, node=ctx.node)


@router.get("/cases/{case_id}/audit", response_model=AuditPage)
@sees_its_record()
def read_audit(
    case: AuditedCase, principal: Auditor, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: CursorQuery = None,
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


# The client's data-protection rights on a case (consents, break-glass, export) live in their own module.
router.include_router(privacy_api.router)
router.include_router(erasure_api.router)
router.include_router(handover_api.router)
