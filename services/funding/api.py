"""HTTP routes of the funding service at municipal level: parse, authorise (deps.py), call service.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from shared import clock
from shared.auth import tenant_for_write
from shared.errors import InvalidInput
from shared.events.funding import ExtensionKind
from shared.http import TenantQuery, YearPath
from shared.ids import ULID_PATTERN

from . import figures, letters, proof, service, years
from .deps import (
    ApplicationSheets,
    ApplicationToChange,
    ContextDep,
    CurrentApplication,
    CurrentPosition,
    FormatQuery,
    Lead,
    Manager,
    PositionSheets,
    PositionToChange,
    Reader,
    SessionDep,
    export_response,
)
from .export_tables import application_table, position_tables
from .models import (
    ExtensionApplicationCreate,
    ExtensionApplicationPublic,
    FundingPosition,
    FundingYearPublic,
    GrantPublic,
    NewPositionApplicationCreate,
    OccupancyChange,
    OccupancyPublic,
    PositionCreate,
    PositionGrants,
    PositionPage,
    PositionPublic,
)

router = APIRouter(prefix="/api/funding/v1", tags=["funding"])


@router.post("/positions", status_code=201, response_model=PositionPublic)
def register_position(body: PositionCreate, principal: Manager, session: SessionDep,
                      ctx: ContextDep) -> PositionPublic:
    """Register a funded position for one of the caller's municipalities."""
    tenant = tenant_for_write(principal, body.tenant, ctx.settings.tenants)
    position = service.register_position(session, tenant=tenant, fte=body.fte, qualification=body.qualification,
                                         starts_on=body.starts_on, ends_on=body.ends_on, actor=principal.sub,
                                         node=ctx.node)
    return PositionPublic.of(position, clock.today(), None)


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
    today = clock.today()
    return PositionPage(items=[PositionPublic.of(p, today, waiting.get(p.id)) for p in page],
                        next_cursor=next_cursor)


def _public(session: Session, position: FundingPosition) -> PositionPublic:
    waiting = service.open_application(session, position_id=position.id)
    return PositionPublic.of(position, clock.today(), waiting.id if waiting else None)


@router.get("/positions/{position_id}", response_model=PositionPublic)
def get_position(position: CurrentPosition, session: SessionDep) -> PositionPublic:
    """One position."""
    return _public(session, position)


@router.post("/positions/{position_id}/occupancy", response_model=PositionPublic)
def change_occupancy(body: OccupancyChange, position: PositionToChange, principal: Manager, session: SessionDep,
                     ctx: ContextDep) -> PositionPublic:
    """Mark the position occupied or vacant (re-fillable)."""
    service.change_occupancy(session, position=position, occupied=body.occupied, since=body.since, node=ctx.node,
                             actor=principal.sub)
    return _public(session, position)


@router.get("/positions/{position_id}/occupancy", response_model=list[OccupancyPublic])
def occupancy_history(position: CurrentPosition, session: SessionDep) -> Any:
    """The position's occupancy history, oldest first."""
    return service.occupancy_history(session, position_id=position.id)


@router.get("/positions/{position_id}/grants", response_model=PositionGrants)
def position_grants(position: CurrentPosition, session: SessionDep) -> PositionGrants:
    """The position's grant per funding year (rate × FTE × funded months / 12), as the state computes it;
    none while a new position is applied for, nor once refused or withdrawn."""
    found = years.grants_of(session, position=position)
    return PositionGrants(position_id=position.id, fte=position.fte, qualification=position.qualification,
                          items=[GrantPublic.of(g) for g in found])


@router.get("/positions/{position_id}/proof-of-use", response_model=list[proof.ProofRow])
def proof_of_use(position: CurrentPosition, session: SessionDep) -> list[proof.ProofRow]:
    """Per funding year: the grant, what the municipality paid out, and what is left (Verwendungsnachweis)."""
    return proof.proof_of_use(session, position=position)


@router.put("/positions/{position_id}/payouts/{year}", response_model=list[proof.ProofRow])
def enter_payout(year: YearPath, body: proof.PayoutCreate, position: PositionToChange, principal: Manager,
                 session: SessionDep) -> list[proof.ProofRow]:
    """Enter (or correct) what was paid out for the position in a funding year; the proof of use."""
    proof.enter_payout(session, position=position, year=year, paid_eur=body.paid_eur, actor=principal.sub)
    return proof.proof_of_use(session, position=position)


# v1 took no body; since v2 the justification is required, so a missing body names it (not "body").
@router.post("/positions/{position_id}/extension-applications", status_code=201,
             response_model=ExtensionApplicationPublic, openapi_extra={"requestBody": {"required": True}})
def apply_for_extension(position: PositionToChange, principal: Manager, session: SessionDep, ctx: ContextDep,
                        body: ExtensionApplicationCreate | None = None) -> Any:
    """Apply to the state to extend the position: by 24 months, or by 12 after an interruption of salary payments."""
    if body is None:
        raise InvalidInput("justification", "Field required")
    return service.apply_for_extension(
        session, position=position, kind=ExtensionKind(body.kind), justification=body.justification,
        interruption_from=body.interruption_from, interruption_to=body.interruption_to,
        actor=principal.sub, today=clock.today(), node=ctx.node)


@router.post("/new-position-applications", status_code=201, response_model=ExtensionApplicationPublic)
def apply_for_new_position(body: NewPositionApplicationCreate, principal: Manager, session: SessionDep,
                           ctx: ContextDep) -> Any:
    """Apply to the state for a new position; it is registered as `applied` (funded nowhere) until decided."""
    tenant = tenant_for_write(principal, body.tenant, ctx.settings.tenants)
    return service.apply_for_new_position(
        session, tenant=tenant, fte=body.fte, qualification=body.qualification, starts_on=body.starts_on,
        months=body.months, justification=body.justification, actor=principal.sub, today=clock.today(),
        node=ctx.node)


@router.get("/positions/{position_id}/extension-applications", response_model=list[ExtensionApplicationPublic])
def list_applications(position: CurrentPosition, session: SessionDep) -> list[ExtensionApplicationPublic]:
    """The position's applications (a new position's included), newest first."""
    found = service.list_applications(session, position_id=position.id)
    printed = letters.with_letters(session, application_ids=[a.id for a in found])
    return [ExtensionApplicationPublic.of(a, a.id in printed) for a in found]


@router.get("/extension-applications/{application_id}", response_model=ExtensionApplicationPublic)
def get_application(application: CurrentApplication, session: SessionDep) -> ExtensionApplicationPublic:
    """One application, an extension's or a new position's."""
    printed = letters.with_letters(session, application_ids=[application.id])
    return ExtensionApplicationPublic.of(application, application.id in printed)


@router.post("/extension-applications/{application_id}/withdraw", response_model=ExtensionApplicationPublic)
def withdraw_application(application: ApplicationToChange, session: SessionDep, ctx: ContextDep) -> Any:
    """Withdraw an application the state has not decided yet (a new position's: the position too); 409 once
    it is decided or withdrawn."""
    return service.withdraw_application(session, application=application, today=clock.today(), node=ctx.node)


@router.get("/extension-applications/{application_id}/letter.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def decision_letter(application: CurrentApplication, session: SessionDep) -> Response:
    """The decision letter (PDF) printed on this node when the state's decision arrived."""
    letter = letters.get_letter(session, application_id=application.id)
    return Response(letter.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="bescheid-{application.id}.pdf"'})


@router.get("/years", response_model=list[FundingYearPublic])
def list_years(principal: Reader, session: SessionDep) -> list[FundingYearPublic]:
    """The funding years the state has set, newest first."""
    return [FundingYearPublic.of(y) for y in years.list_years(session)]


@router.get("/years/{year}", response_model=FundingYearPublic)
def get_year(year: YearPath, principal: Reader, session: SessionDep) -> FundingYearPublic:
    """One funding year's budget and fixed amounts, as the state sent them down."""
    return FundingYearPublic.of(years.get_year(session, year=year))


@router.get("/exports/positions", response_class=Response, responses={200: {"content": {
    "text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export_positions(principal: Reader, session: SessionDep, fmt: FormatQuery,
                     sheet: PositionSheets = None) -> Response:
    """The position register with each position's grant per funding year (sheets Stellen, Zuwendungen)."""
    found, _ = service.list_positions(session, tenants=principal.tenants)
    return export_response(position_tables(session, [(p.id, None, p) for p in found]), fmt, sheet, "stellen")


@router.get("/exports/applications", response_class=Response, responses={200: {"content": {
    "text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export_applications(principal: Reader, session: SessionDep, fmt: FormatQuery,
                        year: Annotated[int, Query(ge=2000, le=2099)], sheet: ApplicationSheets = None) -> Response:
    """The applications and decisions of a year (made, decided or withdrawn in it), sheet Anträge."""
    found = service.applications_of(session, tenants=principal.tenants)
    return export_response([application_table(found, year, state=False)], fmt, sheet, f"antraege-{year}")


@router.get("/key-figures/{year}", response_model=figures.KeyFiguresPublic)
def key_figures(year: YearPath, principal: Reader, session: SessionDep, ctx: ContextDep,
                tenant: TenantQuery = None) -> figures.KeyFiguresPublic:
    """The municipality's annual figures: positions and FTE of the year, and what was submitted, when."""
    chosen = tenant_for_write(principal, tenant, ctx.settings.tenants)
    return figures.key_figures(session, tenant=chosen, year=year, today=clock.today())


@router.post("/key-figures/{year}/submit", status_code=201, response_model=figures.KeyFiguresPublic)
def submit_key_figures(year: YearPath, body: figures.KeyFiguresCreate, principal: Lead, session: SessionDep,
                       ctx: ContextDep) -> figures.KeyFiguresPublic:
    """Submit the year's figures to the state (aggregated, small cells withheld); once per year."""
    tenant = tenant_for_write(principal, body.tenant, ctx.settings.tenants)
    figures.submit(session, tenant=tenant, year=year, body=body, actor=principal.sub, today=clock.today(),
                   node=ctx.node)
    return figures.key_figures(session, tenant=tenant, year=year, today=clock.today())
