"""HTTP routes of the cases service: parse, authorise, call service.py, audit, commit."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BeforeValidator
from sqlmodel import Session

from shared.auth import Principal, can_see, tenant_for_write
from shared.http import StateCaller, TenantQuery, domain_errors, requires
from shared.service import ServiceContext

from . import service
from .models import (
    ULID_PATTERN,
    AuditPage,
    CaseClose,
    CaseCreate,
    CasePage,
    CasePublic,
    CasesCase,
    CaseStatus,
    ConsultationCreate,
    ConsultationPublic,
)
from .statistics import ConsultationStatistics

PREFIX = "/api/cases/v1"
# Case files are case contents: node_admin (operations) and the state roles never see them.
CASE_ROLES = ("manager", "lead")
AUDIT_ROLES = ("lead",)
Caller = Annotated[Principal, requires(*CASE_ROLES)]
Auditor = Annotated[Principal, requires(*AUDIT_ROLES)]


def _iso_date(value: Any) -> Any:
    """Only YYYY-MM-DD: a number is not silently read as a Unix timestamp."""
    if not (isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)):
        raise ValueError("must be an ISO date (YYYY-MM-DD)")
    return value


QueryDate = Annotated[date | None, BeforeValidator(_iso_date)]


def may_see(principal: Principal, case: CasesCase) -> bool:
    """A lead sees the cases of their tenants; a manager only those of their own caseload."""
    if not can_see(principal, case.tenant):
        return False
    return principal.has("lead") or case.manager == principal.sub


def _case(session: Session, principal: Principal, case_id: str,
          for_update: bool = False) -> CasesCase:
    """The caller's case; one they may not see answers exactly like a missing one."""
    case = service.get_case(session, case_id=case_id, for_update=for_update)
    if not may_see(principal, case):
        raise service.NotFound("case not found")
    return case


def router(ctx: ServiceContext) -> APIRouter:
    """The service's routes for this node's level: case files on municipal nodes, statistics at state."""
    api = APIRouter(prefix=PREFIX, tags=["cases"])
    if ctx.settings.level == "state":
        api.include_router(state_routes(ctx))
    else:
        api.include_router(municipal_routes(ctx))
    return api


def municipal_routes(ctx: ServiceContext) -> APIRouter:
    """A municipality's case files; every read and write leaves a row in the audit trail."""
    routes = APIRouter()
    db, node, tenants = ctx.database, ctx.node, ctx.settings.tenants

    @routes.post("/cases", status_code=201, response_model=CasePublic)
    def open_case(body: CaseCreate, principal: Caller) -> Any:
        tenant = tenant_for_write(principal, body.tenant, tenants)
        with domain_errors(), db.session() as session:
            case = service.open_case(
                session, tenant=tenant, manager=principal.sub, given_name=body.given_name,
                family_name=body.family_name, birth_date=body.birth_date,
                nationality=body.nationality, languages=body.languages,
                household_size=body.household_size, accommodation_since=body.accommodation_since,
                node=node)
            session.commit()
        return case

    @routes.get("/cases", response_model=CasePage)
    def list_cases(
        principal: Caller,
        status: CaseStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=26, pattern=ULID_PATTERN)] = None,
    ) -> CasePage:
        visible = principal.tenants.intersection(tenants)
        own = None if principal.has("lead") else principal.sub
        with db.session() as session:
            cases = service.list_cases(session, tenants=visible, manager=own, status=status,
                                       after=cursor, limit=limit + 1)
            page = cases[:limit]
            for case in page:
                service.audit(session, actor=principal.sub, action="list", case=case)
            session.commit()
        return CasePage(items=[CasePublic.model_validate(c) for c in page],
                        next_cursor=page[-1].id if len(cases) > limit else None)

    @routes.get("/cases/{case_id}", response_model=CasePublic)
    def read_case(case_id: str, principal: Caller) -> Any:
        with domain_errors(), db.session() as session:
            case = _case(session, principal, case_id)
            service.audit(session, actor=principal.sub, action="read", case=case)
            session.commit()
        return case

    @routes.post("/cases/{case_id}/consultations", status_code=201,
                 response_model=ConsultationPublic)
    def record_consultation(case_id: str, body: ConsultationCreate, principal: Caller) -> Any:
        with domain_errors(), db.session() as session:
            case = _case(session, principal, case_id, for_update=True)
            consultation = service.record_consultation(
                session, case=case, held_on=body.held_on, duration_minutes=body.duration_minutes,
                mode=body.mode, topics=body.topics, note=body.note, actor=principal.sub,
                node=node)
            session.commit()
        return consultation

    @routes.get("/cases/{case_id}/consultations", response_model=list[ConsultationPublic])
    def list_consultations(case_id: str, principal: Caller) -> Any:
        with domain_errors(), db.session() as session:
            case = _case(session, principal, case_id)
            consultations = service.consultations_of(session, case_id=case.id)
            service.audit(session, actor=principal.sub, action="read_consultations", case=case)
            session.commit()
        return consultations

    @routes.post("/cases/{case_id}/close", response_model=CasePublic)
    def close_case(case_id: str, body: CaseClose, principal: Caller) -> Any:
        with domain_errors(), db.session() as session:
            case = _case(session, principal, case_id, for_update=True)
            service.close_case(session, case=case, reason=body.reason, actor=principal.sub,
                               node=node)
            session.commit()
        return case

    @routes.get("/cases/{case_id}/audit", response_model=AuditPage)
    def read_audit(
        case_id: str, principal: Auditor,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        cursor: Annotated[int | None, Query(ge=0)] = None,
    ) -> AuditPage:
        with domain_errors(), db.session() as session:
            case = _case(session, principal, case_id)
            # Reading the trail is recorded too, before it is read: it shows its own reading.
            service.audit(session, actor=principal.sub, action="read_audit", case=case)
            session.flush()
            rows = service.audit_trail(session, case_id=case.id, after=cursor, limit=limit + 1)
            session.commit()
        page = rows[:limit]
        return AuditPage.model_validate({"items": page, "next_cursor": page[-1].id
                                         if len(rows) > limit else None}, from_attributes=True)

    return routes


def state_routes(ctx: ServiceContext) -> APIRouter:
    """The statewide, pseudonymous view: consultation statistics with small cells withheld."""
    routes = APIRouter()
    db = ctx.database

    @routes.get("/statistics/consultations", response_model=ConsultationStatistics)
    def consultation_statistics(
        principal: StateCaller,
        tenant: TenantQuery = None,
        from_: Annotated[QueryDate, Query(alias="from")] = None,
        to: Annotated[QueryDate, Query()] = None,
    ) -> ConsultationStatistics:
        """Consultations held from..to (inclusive), statewide or for one municipality (AGS)."""
        if from_ is not None and to is not None and to < from_:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                [{"field": "to", "reason": "must not be before from"}])
        with db.session() as session:
            return service.consultation_statistics(session, tenant=tenant, from_=from_, to=to)

    return routes
