"""HTTP routes of the funding service at state level: the statewide register and the decisions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from shared import clock
from shared.events.codes import ApplicationStatus
from shared.events.funding import Qualification
from shared.http import StateCaller, TenantQuery, YearPath

from .. import years
from ..deps import SHEET, ApplicationSheets, FormatQuery, PositionSheets, export_response
from ..export_tables import application_table, position_tables
from ..models import FundingYearPublic, GrantPublic, PositionGrants
from . import budget, figures, service
from .deps import AllocationKeysDep, ApplicationToDecide, ContextDep, CurrentApplication, Officer, SessionDep
from .models import (
    AllocationKeys,
    DecisionCreate,
    DistrictBudgetPublic,
    FundingStateYear,
    ImpactPublic,
    PositionRegister,
    StateApplicationPublic,
    YearBudgetPublic,
)

router = APIRouter(prefix="/api/funding/v1", tags=["funding"])


@router.get("/positions", response_model=PositionRegister)
def position_register(principal: StateCaller, session: SessionDep, tenant: TenantQuery = None) -> PositionRegister:
    """The statewide register (or one municipality's), with FTE totals per municipality."""
    return PositionRegister.of(service.register(session, tenant=tenant), clock.today())


@router.get("/positions/{position_id}/grants", response_model=PositionGrants)
def position_grants(position_id: str, principal: StateCaller, session: SessionDep) -> PositionGrants:
    """A position's grant per funding year, computed as its municipal node computes it."""
    p = service.find_position(session, position_id=position_id)
    found = years.grants_of(session, position=p, model=FundingStateYear)
    return PositionGrants(position_id=p.position_id, fte=p.fte, qualification=p.qualification,
                          items=[GrantPublic.of(g) for g in found])


@router.post("/years", status_code=201, response_model=FundingYearPublic)
def set_year(body: FundingYearPublic, principal: Officer, session: SessionDep, ctx: ContextDep) -> FundingYearPublic:
    """Set a funding year's budget and fixed amounts; sent down to every node in the same commit."""
    row = service.set_year(session, year=body.year, budget_eur=body.budget_eur,
                           rates_eur={Qualification(k): v for k, v in body.rates_eur.model_dump().items()},
                           node=ctx.node)
    return FundingYearPublic.of(row)


def _budget_public(found: budget.YearBudget) -> YearBudgetPublic:
    districts = [DistrictBudgetPublic(
        district=d.district, share=d.share, committed_eur=float(d.committed_eur),
        allocation_eur=None if d.allocation_eur is None else float(d.allocation_eur),
        remaining_eur=None if d.allocation_eur is None else float(d.allocation_eur - d.committed_eur))
        for d in found.districts]
    return YearBudgetPublic(year=found.year, budget_eur=found.budget_eur, committed_eur=float(found.committed_eur),
                            remaining_eur=float(found.budget_eur - found.committed_eur), districts=districts)


@router.get("/years", response_model=list[FundingYearPublic])
def list_years(principal: StateCaller, session: SessionDep) -> list[FundingYearPublic]:
    """Every funding year set, newest first."""
    return [FundingYearPublic.of(y) for y in years.list_years(session, model=FundingStateYear)]


@router.get("/years/{year}", response_model=FundingYearPublic)
def get_year(year: YearPath, principal: StateCaller, session: SessionDep) -> FundingYearPublic:
    """One funding year's budget and fixed amounts."""
    return FundingYearPublic.of(years.get_year(session, year=year, model=FundingStateYear))


@router.get("/years/{year}/allocation", response_model=YearBudgetPublic)
def year_allocation(year: YearPath, principal: StateCaller, session: SessionDep) -> YearBudgetPublic:
    """The year's allocation per district by its key, the grants committed against it, and statewide."""
    return _budget_public(budget.year_budget(session, year=year))


@router.put("/years/{year}/allocation", response_model=YearBudgetPublic, openapi_extra={"requestBody": {
    "required": True, "content": {
        "application/json": {"schema": AllocationKeys.model_json_schema()},
        "text/csv": {"schema": {"type": "string", "description": "district;share per line, a header allowed"}}}}})
def set_allocation(year: YearPath, principal: Officer, keys: AllocationKeysDep,
                   session: SessionDep) -> YearBudgetPublic:
    """Replace the year's allocation keys per district (JSON, or a CSV upload); the resulting allocation."""
    budget.set_keys(session, year=year, keys=keys)
    return _budget_public(budget.year_budget(session, year=year))


@router.get("/extension-applications/{application_id}/impact", response_model=list[ImpactPublic])
def application_impact(application: CurrentApplication, session: SessionDep) -> list[ImpactPublic]:
    """Per funding year: what approving as asked adds, and whether it would exceed the allocation or budget."""
    return [ImpactPublic(
        year=i.year, extra_eur=float(i.extra_eur), district=i.district,
        district_committed_eur=float(i.district_committed_eur),
        district_allocation_eur=None if i.district_allocation_eur is None else float(i.district_allocation_eur),
        committed_eur=float(i.committed_eur), budget_eur=i.budget_eur, exceeds_allocation=i.exceeds_allocation,
        exceeds_budget=i.exceeds_budget) for i in budget.impact(session, application=application)]


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
                   months=body.months, actor=principal.sub, today=clock.today(), node=ctx.node)
    return application


EXPORT: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}}


@router.get("/exports/positions", response_class=Response, responses=EXPORT)
def export_register(principal: StateCaller, session: SessionDep, fmt: FormatQuery,
                    sheet: PositionSheets = None) -> Response:
    """The statewide position register with each position's grant per funding year (Stellen, Zuwendungen)."""
    found = service.register(session, tenant=None)
    tables = position_tables(session, [(p.position_id, p.node, p) for p in found], model=FundingStateYear)
    return export_response(tables, fmt, sheet, "stellenregister")


@router.get("/exports/applications", response_class=Response, responses=EXPORT)
def export_applications(principal: StateCaller, session: SessionDep, fmt: FormatQuery,
                        year: Annotated[int, Query(ge=2000, le=2099)], sheet: ApplicationSheets = None) -> Response:
    """Every node's applications and decisions of a year (made, decided or withdrawn in it), sheet Anträge."""
    found = service.applications(session, status=None)
    return export_response([application_table(found, year, state=True)], fmt, sheet, f"antraege-{year}")


@router.get("/exports/allocation", response_class=Response, responses=EXPORT)
def export_allocation(principal: StateCaller, session: SessionDep, fmt: FormatQuery,
                      year: Annotated[int, Query(ge=2000, le=2099)],
                      sheet: Annotated[Literal["Kreise", "Land"] | None, Query(description=SHEET)] = None) -> Response:
    """The year's allocation and commitments per district (Kreise) and statewide (Land)."""
    return export_response(budget.budget_tables(budget.year_budget(session, year=year)), fmt, sheet,
                           f"zuweisung-{year}")


@router.get("/key-figures", response_model=figures.KeyFiguresOverview)
def key_figures(principal: StateCaller, session: SessionDep,
                year: Annotated[int, Query(ge=2000, le=2099)]) -> figures.KeyFiguresOverview:
    """Who submitted the year's figures, who is late after 31 January, and the statewide totals."""
    return figures.overview(session, year=year, today=clock.today())
