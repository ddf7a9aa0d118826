"""The domain's errors: raised by service.py, mapped to HTTP answers in one place (shared/http.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; the message says why in words a caller understands."""


class NotFound(DomainError):
    """No such object, or not one the caller may see: both answer exactly alike (404)."""


class Conflict(DomainError):
    """The request is valid but the object's state does not allow it; the message says why (409)."""


class InvalidInput(DomainError):
    """A field's value does not fit the object it refers to (422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason
