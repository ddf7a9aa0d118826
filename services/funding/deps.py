"""What the funding routes need: the unit of work, the node's context, the caller, the current objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from shared.auth import Principal, can_see
from shared.errors import NotFound
from shared.http import context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service
from .models import FundingExtensionApplication, FundingPosition

SessionDep = Annotated[Session, session_dependency("funding")]
ContextDep = Annotated[ServiceContext, Depends(context_of("funding"))]

# Positions hold no case contents: node_admin may manage them next to the lead; managers may read.
Manager = Annotated[Principal, requires("lead", "node_admin")]
Reader = Annotated[Principal, requires("lead", "node_admin", "manager")]


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


CurrentPosition = Annotated[FundingPosition, Depends(current_position)]
PositionToChange = Annotated[FundingPosition, Depends(position_to_change)]
CurrentApplication = Annotated[FundingExtensionApplication, Depends(current_application)]
