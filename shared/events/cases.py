"""Contracts produced by the cases service. Thin: ids, codes, dates, minutes — no names or notes."""

from datetime import date

from pydantic import Field

from .codes import CloseReason, Mode, Topic
from .envelope import Contract
from .registry import contract


@contract
class CaseOpened(Contract):
    """A manager opened a case file for a client."""

    event_type = "CaseOpened"
    version = 1
    scope = "up"
    pseudonymised_fields = ("case_id",)
    local_only_fields = ("manager",)

    case_id: str
    manager: str
    opened_on: date
    household_size: int = Field(ge=1, le=30)


@contract
class ConsultationRecorded(Contract):
    """A consultation was held and recorded in a case file."""

    event_type = "ConsultationRecorded"
    version = 1
    scope = "up"
    pseudonymised_fields = ("case_id",)
    local_only_fields = ("manager", "consultation_id")

    case_id: str
    consultation_id: str
    manager: str
    held_on: date
    duration_minutes: int = Field(ge=1, le=600)
    mode: Mode
    topics: list[Topic] = Field(min_length=1)


@contract
class CaseClosed(Contract):
    """A case file was closed with a reason."""

    event_type = "CaseClosed"
    version = 1
    scope = "up"
    pseudonymised_fields = ("case_id",)
    local_only_fields = ("manager",)

    case_id: str
    manager: str
    closed_on: date
    reason: CloseReason
