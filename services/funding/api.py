"""HTTP routes of the funding service at municipal level: parse, authorise (deps.py), call service.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session

from shared.auth import tenant_for_write
from shared.errors import InvalidInput
from shared.http import TenantQuery
from shared.ids import ULID_PATTERN

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
    FundingPosition,
    OccupancyChange,
    PositionCreate,
    PositionPage,
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
    return PositionPublic.of(position, date.today(), None)


@router.get("/positions", response_model=PositionPage)
def list_positions(
    principal: Reader, session: SessionDep, tenant: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=26, pattern=ULID_PATTERN)] = None,
) -> PositionPage:
    """A page of the positions of the caller's municipalities (or of one of them), oldest term first."""
    visible = principal.tenants if tenant is None else principal.tenants & {tenant}
    page, next_cursor = service.list_positions(session, tenants=visible, after=cursor, limit=limit)
    waiting = service.open_applications(session, position_ids=[p.id for p in page])
    today = date.today()
    return PositionPage(items=[PositionPublic.of(p, today, waiting.get(p.id)) for p in page],
                        next_cursor=next_cursor)


def _public(session: Session, position: FundingPosition) -> PositionPublic:
    waiting = service.open_application(session, position_id=position.id)
    return PositionPublic.of(position, date.today(), waiting.id if waiting else None)


@router.get("/positions/{position_id}", response_model=PositionPublic)
def get_position(position: CurrentPosition, session: SessionDep) -> PositionPublic:
    """One position."""
    return _public(session, position)


@router.post("/positions/{position_id}/occupancy", response_model=PositionPublic)
def change_occupancy(body: OccupancyChange, position: PositionToChange, session: SessionDep,
                     ctx: ContextDep) -> PositionPublic:
    """Mark the position occupied or vacant (re-fillable)."""
    service.change_occupancy(session, position=position, occupied=body.occupied, since=body.since, node=ctx.node)
    return _public(session, position)


# v1 took no body; since v2 the justification is required, so a missing body names it (not "body").
@router.post("/positions/{position_id}/extension-applications", status_code=201,
             response_model=ExtensionApplicationPublic, openapi_extra={"requestBody": {"required": True}})
def apply_for_extension(position: PositionToChange, principal: Manager, session: SessionDep, ctx: ContextDep,
                        body: ExtensionApplicationCreate | None = None) -> Any:
    """Apply to the state to extend the position: by 24 months, or by 12 after an interruption of salary payments."""
    if body is None:
        raise InvalidInput("justification", "Field required")
    return service.apply_for_extension(
        session, position=position, kind=body.kind, justification=body.justification,
        interruption_from=body.interruption_from, interruption_to=body.interruption_to,
        actor=principal.sub, today=date.today(), node=ctx.node)


@router.get("/positions/{position_id}/extension-applications", response_model=list[ExtensionApplicationPublic])
def list_applications(position: CurrentPosition, session: SessionDep) -> Any:
    """The position's extension applications, newest first."""
    return service.list_applications(session, position_id=position.id)


@router.get("/extension-applications/{application_id}", response_model=ExtensionApplicationPublic)
def get_application(application: CurrentApplication) -> Any:
    """One extension application."""
    return application
