"""What the cases routes get from dependencies: the unit of work, the caller, the authorised case."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends
from pydantic import BeforeValidator
from sqlmodel import Session

from shared.auth import Principal, can_see, tenant_for_write
from shared.errors import NotFound
from shared.fields import iso_date_only
from shared.http import TenantQuery, context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service
from .models import Case

SessionDep = Annotated[Session, session_dependency("cases")]
ContextDep = Annotated[ServiceContext, Depends(context_of("cases"))]
# Case files are case contents: node_admin (operations) and the state roles never see them.
Caller = Annotated[Principal, requires("manager", "lead")]
Lead = Annotated[Principal, requires("lead")]
Auditor = Lead  # a case's audit trail is for the lead
# A query date that may be absent; when given, only YYYY-MM-DD (not a Unix timestamp).
QueryDate = Annotated[date | None, BeforeValidator(iso_date_only)]


def may_see(principal: Principal, case: Case) -> bool:
    """A lead sees the cases of their tenants; a manager only those of their own caseload."""
    if not can_see(principal, case.tenant):
        return False
    return principal.has("lead") or case.manager == principal.sub


def _visible(session: Session, principal: Principal, case_id: str, *, for_update: bool) -> Case:
    case = service.get_case(session, case_id=case_id, for_update=for_update)
    if not may_see(principal, case):
        raise NotFound("case not found")  # exactly the answer for a missing case
    return case


def current_case(case_id: str, principal: Caller, session: SessionDep) -> Case:
    """The case the caller reads; one they may not see answers exactly like a missing one."""
    return _visible(session, principal, case_id, for_update=False)


def case_to_change(case_id: str, principal: Caller, session: SessionDep) -> Case:
    """The caller's case, locked for this request's transaction because it is about to change."""
    return _visible(session, principal, case_id, for_update=True)


def audited_case(case_id: str, principal: Auditor, session: SessionDep) -> Case:
    """The case whose audit trail a lead reads: the role first (403), then visibility (404)."""
    return _visible(session, principal, case_id, for_update=False)


CurrentCase = Annotated[Case, Depends(current_case)]
CaseToChange = Annotated[Case, Depends(case_to_change)]
AuditedCase = Annotated[Case, Depends(audited_case)]


def figures_tenant(principal: Lead, ctx: ContextDep, tenant: TenantQuery = None) -> str:
    """The municipality whose figures a lead reads: `tenant`, or their only one on this node (else 422)."""
    return tenant_for_write(principal, tenant, ctx.settings.tenants)


FiguresTenant = Annotated[str, Depends(figures_tenant)]
