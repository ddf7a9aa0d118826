"""Contracts produced by the cases service. Thin: ids, codes, dates, minutes — no names or notes."""

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from .codes import CloseReason, Eligibility, Mode, Relation, Topic
from .envelope import Contract
from .registry import contract
from .streams import CASES


@contract
class CaseOpened(Contract):
    """A manager opened a case file for a client."""

    event_type = "CaseOpened"
    version = 1
    scope = "up"
    stream = CASES
    pseudonymised_fields = ("case_id",)
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    case_id: str
    manager: str | None = None  # local only: never reaches the state
    opened_on: date
    household_size: int = Field(ge=1, le=30)
    # Optional (v1 stays): the programme's eligibility basis and the household members counselled
    # alongside, counted by relation (codes and counts, never a name or a birth year).
    eligibility: Eligibility | None = None
    household_members: dict[Relation, Annotated[int, Field(ge=1, le=29)]] = Field(default_factory=dict)


@contract
class ConsultationRecorded(Contract):
    """A consultation was held and recorded in a case file."""

    event_type = "ConsultationRecorded"
    version = 1
    scope = "up"
    stream = CASES
    pseudonymised_fields = ("case_id",)
    pseudonymised_aggregate = True
    local_only_fields = ("manager", "consultation_id")

    case_id: str
    consultation_id: str | None = None  # local only
    manager: str | None = None  # local only
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
    stream = CASES
    pseudonymised_fields = ("case_id",)
    pseudonymised_aggregate = True
    local_only_fields = ("manager",)

    case_id: str
    manager: str | None = None  # local only
    closed_on: date
    reason: CloseReason


@contract
class CounsellingPeriodSet(Contract):
    """A case's counselling clock was set or moved: counselling ends on `ends_on` (local only)."""

    event_type = "CounsellingPeriodSet"
    version = 1
    scope = "local"
    stream = CASES

    case_id: str
    manager: str
    ends_on: date
    extended: bool = False


@contract
class CaseReassigned(Contract):
    """A lead handed a case to another manager of the same municipality (local only)."""

    event_type = "CaseReassigned"
    version = 1
    scope = "local"
    stream = CASES

    case_id: str
    previous_manager: str
    manager: str
    reassigned_on: date


@contract
class CounsellingExtended(Contract):
    """A lead extended a case's counselling to four years (the state counts cases reaching the clock's end)."""

    event_type = "CounsellingExtended"
    version = 1
    scope = "up"
    stream = CASES
    pseudonymised_fields = ("case_id",)
    pseudonymised_aggregate = True

    case_id: str
    extended_on: date


@contract
class BreakGlassOpened(Contract):
    """A stand-in manager opened a case outside their caseload until `until` (local; the reason stays in the file)."""

    event_type = "BreakGlassOpened"
    version = 1
    scope = "local"
    stream = CASES

    case_id: str
    manager: str
    until: datetime


@contract
class CaseErased(Contract):
    """A case's personal data was erased (on request or after its retention); local: the plans and
    notifications services erase their part. Nothing goes up: the state's figures stay as they were."""

    event_type = "CaseErased"
    version = 1
    scope = "local"
    stream = CASES

    case_id: str
    manager: str
    erased_on: date
