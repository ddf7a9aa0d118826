"""HTTP routes of the funding service at state level: the statewide register and the decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from shared.events.codes import ApplicationStatus
from shared.http import StateCaller, TenantQuery

from . import service
from .deps import ApplicationToDecide, ContextDep, CurrentApplication, Officer, SessionDep
from .models import DecisionCreate, PositionRegister, StateApplicationPublic

router = APIRouter(prefix="/api/funding/v1", tags=["funding"])


@router.get("/positions", response_model=PositionRegister)
def position_register(principal: StateCaller, session: SessionDep, tenant: TenantQuery = None) -> PositionRegister:
    """The statewide register (or one municipality's), with FTE totals per municipality."""
    return PositionRegister.of(service.register(session, tenant=tenant), date.today())


@router.get("/extension-applications", response_model=list[StateApplicationPublic])
def list_applications(principal: StateCaller, session: SessionDep,
                      status: Annotated[ApplicationStatus | None, Query()] = None) -> Any:
    """Every node's extension applications (optionally of one status), oldest first."""
    return service.applications(session, status=status)


@router.get("/extension-applications/{application_id}", response_model=StateApplicationPublic)
def get_application(application: CurrentApplication) -> Any:
    """One extension application."""
    return application


@router.post("/extension-applications/{application_id}/decision", response_model=StateApplicationPublic)
def decide(body: DecisionCreate, application: ApplicationToDecide, principal: Officer, session: SessionDep,
           ctx: ContextDep) -> Any:
    """Approve or reject; the decision goes down to the applying node in the same commit."""
    service.decide(session, application=application, approved=body.approved, reason=body.reason,
                   actor=principal.sub, today=date.today(), node=ctx.node)
    return application
