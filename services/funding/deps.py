"""What the funding routes need: the unit of work, the node's context, the caller, the current objects."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response
from sqlmodel import Session

from shared.auth import Principal, can_see
from shared.errors import NotFound
from shared.http import context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service
from .exports import MEDIA_TYPES, ExportFormat, Table, render
from .models import FundingExtensionApplication, FundingPosition

SessionDep = Annotated[Session, session_dependency("funding")]
ContextDep = Annotated[ServiceContext, Depends(context_of("funding"))]

# Positions hold no case contents: node_admin may manage them next to the lead; managers may read.
Manager = Annotated[Principal, requires("lead", "node_admin")]
Reader = Annotated[Principal, requires("lead", "node_admin", "manager")]
Lead = Annotated[Principal, requires("lead")]  # the municipality's annual figures are the lead's to submit


def current_position(position_id: str, session: SessionDep, principal: Reader) -> FundingPosition:
    """The caller's position; another tenant's answers exactly like a missing one."""
    position = service.get_position(session, position_id=position_id)
    if not can_see(principal, position.tenant):
        raise NotFound("position not found")
    return position


def position_to_change(position_id: str, session: SessionDep, principal: Manager) -> FundingPosition:
    """A position the caller manages, locked until the unit of work ends."""
    position = service.get_position(session, position_id=position_id, for_update=True)
    if not can_see(principal, position.tenant):
        raise NotFound("position not found")
    return position


def current_application(
    application_id: str, session: SessionDep, principal: Reader,
) -> FundingExtensionApplication:
    """The caller's extension application; another tenant's answers exactly like a missing one."""
    application = service.get_application(session, application_id=application_id)
    if not can_see(principal, application.tenant):
        raise NotFound("extension application not found")
    return application


def application_to_change(
    application_id: str, session: SessionDep, principal: Manager,
) -> FundingExtensionApplication:
    """An application the caller manages, locked until the unit of work ends."""
    application = service.get_application(session, application_id=application_id, for_update=True)
    if not can_see(principal, application.tenant):
        raise NotFound("extension application not found")
    return application


CurrentPosition = Annotated[FundingPosition, Depends(current_position)]
PositionToChange = Annotated[FundingPosition, Depends(position_to_change)]
CurrentApplication = Annotated[FundingExtensionApplication, Depends(current_application)]
ApplicationToChange = Annotated[FundingExtensionApplication, Depends(application_to_change)]


FormatQuery = Annotated[ExportFormat, Query(alias="format")]
SHEET = "for CSV: the table (sheet) to export; the first by default"
PositionSheets = Annotated[Literal["Stellen", "Zuwendungen"] | None, Query(description=SHEET)]
ApplicationSheets = Annotated[Literal["Anträge"] | None, Query(description=SHEET)]


def export_response(tables: list[Table], fmt: ExportFormat, sheet: str | None, name: str) -> Response:
    """An export as a download: XLSX with every table, or CSV with one."""
    return Response(render(tables, fmt, sheet), media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
