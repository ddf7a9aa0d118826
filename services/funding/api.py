"""HTTP routes of the funding service: parse, authorise, call service.py, commit, map errors."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session

from shared.auth import Principal, can_see, tenant_for_write
from shared.events.codes import ApplicationStatus
from shared.http import StateCaller, TenantQuery, domain_errors, requires
from shared.service import ServiceContext

from . import authority, service
from .models import (
    DecisionCreate,
    ExtensionApplicationCreate,
    ExtensionApplicationPublic,
    FundingExtensionApplication,
    FundingPosition,
    OccupancyChange,
    PositionCreate,
    PositionPublic,
    PositionRegister,
    StateApplicationPublic,
)

PREFIX = "/api/funding/v1"
# Positions hold no case contents: node_admin may manage them next to the lead; managers may read.
MANAGING = ("lead", "node_admin")
READING = ("lead", "node_admin", "manager")
# At state level: every tenant (the token's tenants do not narrow it); only officers decide.
DECIDING = ("funding_officer",)


Manager = Annotated[Principal, requires(*MANAGING)]
Reader = Annotated[Principal, requires(*READING)]
Officer = Annotated[Principal, requires(*DECIDING)]


def _position(session: Session, principal: Principal, position_id: str,
              for_update: bool = False) -> FundingPosition:
    """The caller's position; another tenant's answers exactly like a missing one."""
    position = service.get_position(session, position_id=position_id, for_update=for_update)
    if not can_see(principal, position.tenant):
        raise service.NotFound("position not found")
    return position


def _application(session: Session, principal: Principal,
                 application_id: str) -> FundingExtensionApplication:
    application = service.get_application(session, application_id=application_id)
    if not can_see(principal, application.tenant):
        raise service.NotFound("extension application not found")
    return application


def router(ctx: ServiceContext) -> APIRouter:
    """The routes for this node's level: a municipality's own, or the state authority's."""
    api = APIRouter(prefix=PREFIX, tags=["funding"])
    if ctx.settings.level == "state":
        api.include_router(state_routes(ctx))
    else:
        api.include_router(municipal_routes(ctx))
    return api


def municipal_routes(ctx: ServiceContext) -> APIRouter:
    """A municipality's own positions and its extension applications to the state."""
    routes = APIRouter()
    db, node, tenants = ctx.database, ctx.node, ctx.settings.tenants

    @routes.post("/positions", status_code=201, response_model=PositionPublic)
    def register_position(body: PositionCreate, principal: Manager) -> PositionPublic:
        tenant = tenant_for_write(principal, body.tenant, tenants)
        with domain_errors(), db.session() as session:
            position = service.register_position(
                session, tenant=tenant, fte=body.fte, starts_on=body.starts_on,
                ends_on=body.ends_on, actor=principal.sub, node=node)
            session.commit()
        return PositionPublic.of(position, date.today())

    @routes.get("/positions", response_model=list[PositionPublic])
    def list_positions(principal: Reader, tenant: TenantQuery = None) -> list[PositionPublic]:
        visible = principal.tenants if tenant is None else principal.tenants & {tenant}
        with db.session() as session:
            positions = service.list_positions(session, tenants=visible)
        today = date.today()
        return [PositionPublic.of(p, today) for p in positions]

    @routes.get("/positions/{position_id}", response_model=PositionPublic)
    def get_position(position_id: str, principal: Reader) -> PositionPublic:
        with domain_errors(), db.session() as session:
            position = _position(session, principal, position_id)
        return PositionPublic.of(position, date.today())

    @routes.post("/positions/{position_id}/occupancy", response_model=PositionPublic)
    def change_occupancy(position_id: str, body: OccupancyChange,
                         principal: Manager) -> PositionPublic:
        with domain_errors(), db.session() as session:
            position = _position(session, principal, position_id, for_update=True)
            if service.change_occupancy(session, position=position, occupied=body.occupied,
                                        since=body.since, node=node):
                session.commit()
        return PositionPublic.of(position, date.today())

    @routes.post("/positions/{position_id}/extension-applications", status_code=201,
                 response_model=ExtensionApplicationPublic)
    def apply_for_extension(position_id: str, principal: Manager,
                            body: ExtensionApplicationCreate | None = None) -> Any:
        with domain_errors(), db.session() as session:
            position = _position(session, principal, position_id, for_update=True)
            application = service.apply_for_extension(
                session, position=position, justification=body.reason if body else None,
                actor=principal.sub, today=date.today(), node=node)
            session.commit()
        return application

    @routes.get("/positions/{position_id}/extension-applications",
                response_model=list[ExtensionApplicationPublic])
    def list_applications(position_id: str, principal: Reader) -> Any:
        with domain_errors(), db.session() as session:
            position = _position(session, principal, position_id)
            return service.list_applications(session, position_id=position.id)

    @routes.get("/extension-applications/{application_id}",
                response_model=ExtensionApplicationPublic)
    def get_application(application_id: str, principal: Reader) -> Any:
        with domain_errors(), db.session() as session:
            return _application(session, principal, application_id)

    return routes


def state_routes(ctx: ServiceContext) -> APIRouter:
    """The state as funding authority: the statewide register, every node's applications."""
    routes = APIRouter()
    db, node = ctx.database, ctx.node

    @routes.get("/positions", response_model=PositionRegister)
    def position_register(principal: StateCaller, tenant: TenantQuery = None) -> PositionRegister:
        """The statewide register (or one municipality's), with FTE totals per municipality."""
        with db.session() as session:
            positions = authority.register(session, tenant=tenant)
        return PositionRegister.of(positions, date.today())

    @routes.get("/extension-applications", response_model=list[StateApplicationPublic])
    def list_applications(principal: StateCaller,
                          status: Annotated[ApplicationStatus | None, Query()] = None) -> Any:
        with db.session() as session:
            return authority.applications(session, status=status)

    @routes.get("/extension-applications/{application_id}",
                response_model=StateApplicationPublic)
    def get_application(application_id: str, principal: StateCaller) -> Any:
        with domain_errors(), db.session() as session:
            return authority.get_application(session, application_id=application_id)

    @routes.post("/extension-applications/{application_id}/decision",
                 response_model=StateApplicationPublic)
    def decide(application_id: str, body: DecisionCreate, principal: Officer) -> Any:
        """Approve or reject; the decision goes down to the applying node in the same commit."""
        with domain_errors(), db.session() as session:
            application = authority.get_application(session, application_id=application_id,
                                                    for_update=True)
            authority.decide(session, application=application, approved=body.approved,
                             reason=body.reason, actor=principal.sub, today=date.today(),
                             node=node)
            session.commit()
        return application

    return routes
