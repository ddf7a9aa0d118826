"""What the cases routes get from dependencies: the unit of work, the caller, the authorised case."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from shared.auth import Principal, can_see
from shared.errors import NotFound
from shared.http import context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service
from .models import Case

SessionDep = Annotated[Session, session_dependency("cases")]
ContextDep = Annotated[ServiceContext, Depends(context_of("cases"))]
# Case files are case contents: node_admin (operations) and the state roles never see them.
Caller = Annotated[Principal, requires("manager", "lead")]
Auditor = Annotated[Principal, requires("lead")]


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
