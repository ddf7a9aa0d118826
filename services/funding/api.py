"""HTTP routes of the funding service at municipal level: parse, authorise (deps.py), call service.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from shared.auth import tenant_for_write
from shared.http import TenantQuery

from . import service
from .deps import (
    ContextDep,
    CurrentApplication,
    CurrentPosition,
    Manager,
    PositionToChange,
    Reader,
    SessionDep,
)
from .models import (
    ExtensionApplicationCreate,
    ExtensionApplicationPublic,
    OccupancyChange,
    PositionCreate,
    PositionPublic,
)

router = APIRouter(prefix="/api/funding/v1", tags=["funding"])


@router.post("/positions", status_code=201, response_model=PositionPublic)
def register_position(body: PositionCreate, principal: Manager, session: SessionDep,
                      ctx: ContextDep) -> PositionPublic:
    """Register a funded position for one of the caller's municipalities."""
    tenant = tenant_for_write(principal, body.tenant, ctx.settings.tenants)
    position = service.register_position(session, tenant=tenant, fte=body.fte, starts_on=body.starts_on,
                                         ends_on=body.ends_on, actor=principal.sub, node=ctx.node)
    return PositionPublic.of(position, date.today())


@router.get("/positions", response_model=list[PositionPublic])
def list_positions(principal: Reader, session: SessionDep, tenant: TenantQuery = None) -> list[PositionPublic]:
    """The positions of the caller's municipalities (or of one of them)."""
    visible = principal.tenants if tenant is None else principal.tenants & {tenant}
    today = date.today()
    return [PositionPublic.of(p, today) for p in service.list_positions(session, tenants=visible)]


@router.get("/positions/{position_id}", response_model=PositionPublic)
def get_position(position: CurrentPosition) -> PositionPublic:
    """One position."""
    return PositionPublic.of(position, date.today())


@router.post("/positions/{position_id}/occupancy", response_model=PositionPublic)
def change_occupancy(body: OccupancyChange, position: PositionToChange, session: SessionDep,
                     ctx: ContextDep) -> PositionPublic:
    """Mark the position occupied or vacant (re-fillable)."""
    service.change_occupancy(session, position=position, occupied=body.occupied, since=body.since, node=ctx.node)
    return PositionPublic.of(position, date.today())


@router.post("/positions/{position_id}/extension-applications", status_code=201,
             response_model=ExtensionApplicationPublic)
def apply_for_extension(position: PositionToChange, principal: Manager, session: SessionDep, ctx: ContextDep,
                        body: ExtensionApplicationCreate | None = None) -> Any:
    """Apply to the state to extend the position by 24 months."""
    return service.apply_for_extension(session, position=position, justification=body.reason if body else None,
                                       actor=principal.sub, today=date.today(), node=ctx.node)


@router.get("/positions/{position_id}/extension-applications", response_model=list[ExtensionApplicationPublic])
def list_applications(position: CurrentPosition, session: SessionDep) -> Any:
    """The position's extension applications, newest first."""
    return service.list_applications(session, position_id=position.id)


@router.get("/extension-applications/{application_id}", response_model=ExtensionApplicationPublic)
def get_application(application: CurrentApplication) -> Any:
    """One extension application."""
    return application
