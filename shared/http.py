"""What every service's HTTP layer shares: the unit of work, domain errors as answers, roles, query types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from shared.auth import Principal, PrincipalDep, require_roles
from shared.errors import Conflict, InvalidInput, NotFound
from shared.fields import AGS_PATTERN
from shared.service import ServiceContext

# At state level: aggregates only, over every tenant (the token's tenants do not narrow them).
STATE_ROLES = ("state_operator", "funding_officer")


def register_error_handlers(app: FastAPI) -> None:
    """Map the domain's errors to 404/409/422; the unit of work has rolled back by then."""

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": [{"field": exc.field, "reason": exc.reason}]}, status_code=422)


def context_of(service: str) -> Callable[[Request], ServiceContext]:
    """A dependency: the running service's context (settings, database) on this node."""

    def context(request: Request) -> ServiceContext:
        return request.app.state.contexts[service]  # type: ignore[no-any-return]

    return context


def unit_of_work(service: str) -> Callable[[Request], Iterator[Session]]:
    """A dependency: the service's session, committed once after the route returned, else rolled back."""

    def session(request: Request) -> Iterator[Session]:
        ctx: ServiceContext = request.app.state.contexts[service]
        with ctx.database.session() as db_session:
            try:
                yield db_session
            except BaseException:
                db_session.rollback()
                raise
            db_session.commit()

    return session


def session_dependency(service: str) -> Any:
    """`Depends` on the unit of work, ending before the answer is sent: a failed commit is never a 2xx."""
    return Depends(unit_of_work(service), scope="function")


def requires(*roles: str) -> Any:
    """A dependency answering 403 before the body or any object is even looked at."""

    def check(principal: PrincipalDep) -> Principal:
        require_roles(principal, *roles)
        return principal

    return Depends(check)


StateCaller = Annotated[Principal, requires(*STATE_ROLES)]
TenantQuery = Annotated[str | None, Query(max_length=8, pattern=AGS_PATTERN)]
