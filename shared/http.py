"""What every service's HTTP layer shares: domain errors and their answers, role dependencies, query types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, status

from shared.auth import Principal, PrincipalDep, require_roles

# At state level: aggregates only, over every tenant (the token's tenants do not narrow them).
STATE_ROLES = ("state_operator", "funding_officer")


class NotFound(Exception):
    """No such object (or not one the caller may see): 404, exactly like a missing one."""


class Conflict(Exception):
    """The request is valid but the object's state does not allow it; the message says why (409)."""


class InvalidInput(Exception):
    """A field's value does not fit the object it refers to (422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map the domain's errors to HTTP answers; the session's uncommitted work is rolled back."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"field": exc.field, "reason": exc.reason}]) from None


def requires(*roles: str) -> Any:
    """A dependency answering 403 before the body or any object is even looked at."""

    def check(principal: PrincipalDep) -> Principal:
        require_roles(principal, *roles)
        return principal

    return Depends(check)


StateCaller = Annotated[Principal, requires(*STATE_ROLES)]
TenantQuery = Annotated[str | None, Query(max_length=8, pattern=r"^\d{8}$")]
