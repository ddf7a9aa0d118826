"""What the state's funding routes need: the unit of work, the node's context, the caller, the application."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlmodel import Session

from shared.auth import Principal
from shared.errors import InvalidInput
from shared.http import StateCaller, context_of, requires, session_dependency
from shared.service import ServiceContext

from . import budget, service
from .models import AllocationKeys, FundingStateApplication

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


async def allocation_keys(request: Request) -> dict[str, float]:
    """The allocation keys of a PUT body: JSON `{"keys": {district: share}}`, or a CSV upload (text/csv)."""
    raw = await request.body()
    if request.headers.get("content-type", "").split(";")[0].strip() == "text/csv":
        try:
            return budget.parse_csv(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise InvalidInput("body", "the CSV file must be UTF-8") from None
    try:
        return AllocationKeys.model_validate_json(raw).keys
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "body"
        raise InvalidInput(field, error["msg"]) from None


AllocationKeysDep = Annotated[dict[str, float], Depends(allocation_keys)]
