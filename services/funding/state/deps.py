"""What the state's funding routes need: the unit of work, the node's context, the caller, the application."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from shared.auth import Principal
from shared.http import StateCaller, context_of, requires, session_dependency
from shared.service import ServiceContext

from . import service
from .models import FundingStateApplication

# The same service at either level: its one database and context on this node.
SessionDep = Annotated[Session, session_dependency("funding")]
ContextDep = Annotated[ServiceContext, Depends(context_of("funding"))]
# Every tenant (the token's tenants do not narrow it); only officers decide.
Officer = Annotated[Principal, requires("funding_officer")]


def current_application(application_id: str, session: SessionDep, principal: StateCaller) -> FundingStateApplication:
    """Any node's application, for the state's operators and officers."""
    return service.get_application(session, application_id=application_id)


def application_to_decide(application_id: str, session: SessionDep, principal: Officer) -> FundingStateApplication:
    """The application an officer decides, locked until the unit of work ends."""
    return service.get_application(session, application_id=application_id, for_update=True)


CurrentApplication = Annotated[FundingStateApplication, Depends(current_application)]
ApplicationToDecide = Annotated[FundingStateApplication, Depends(application_to_decide)]
