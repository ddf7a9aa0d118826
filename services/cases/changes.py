"""Bodies of the changes a case file undergoes after it was opened: extension, edit, reassignment."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from .fields import Language, Name, Nationality, PastDate, unique
from .models import EARLIEST_BIRTH, JUSTIFICATION_MAX


class CounsellingExtension(BaseModel):
    """Body of POST /cases/{id}/counselling-extension: why this client needs a fourth year."""

    model_config = ConfigDict(extra="forbid")

    justification: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10,
                                                    max_length=JUSTIFICATION_MAX),
                             pydantic.Field(strict=True)]


def _no_spaces(value: str) -> str:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be a user id: no spaces or control characters")
    return value


class Reassignment(BaseModel):
    """Body of POST /cases/{id}/reassign: the manager (their user id) who takes the case over."""

    model_config = ConfigDict(extra="forbid")

    manager: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
                       pydantic.Field(strict=True), AfterValidator(_no_spaces)]


class CaseUpdate(BaseModel):
    """Body of PATCH /cases/{id}: any of the personal data fields; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name = None  # type: ignore[assignment]
    family_name: Name = None  # type: ignore[assignment]
    birth_date: Annotated[PastDate, pydantic.Field(gt=EARLIEST_BIRTH)] = None  # type: ignore[assignment]
    nationality: Nationality = None  # type: ignore[assignment]
    languages: Annotated[list[Language], pydantic.Field(max_length=10, json_schema_extra={"uniqueItems": True}),
                         AfterValidator(unique("language"))] = None  # type: ignore[assignment]
    household_size: int = pydantic.Field(default=None, strict=True, ge=1, le=30)  # type: ignore[assignment]
    accommodation_since: PastDate | None = None

    @pydantic.model_validator(mode="after")
    def _something(self) -> CaseUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller named, with their new values."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}
