"""Contracts of the funding domain: positions, extension applications and decisions."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .codes import GoalStatus, Mode, PositionStatus, Topic
from .envelope import Contract
from .registry import contract, upcaster
from .streams import FEDERATION, FUNDING

JUSTIFICATION_MAX = 4000  # the municipality's justification of an extension application
MIN_CELL = 5  # a count of people or their consultations below this never leaves the node (0 may)


class Qualification(StrEnum):
    """The holder's qualification level: it sets the fixed amount per full-time position."""

    vocational = "vocational"
    academic = "academic"


class ExtensionKind(StrEnum):
    """What an application asks for: 24 more months, 12 after salary payments were interrupted, or a new position.

    A new position's application asks to fund it from its start (`current_ends_on`) for the months applied for.
    """

    extension_24_months = "extension_24_months"
    interruption_12_months = "interruption_12_months"
    new_position = "new_position"


@contract
class PositionRegistered(Contract):
    """A municipality registered a funded manager position, or a new one it applies for (status `applied`)."""

    event_type = "PositionRegistered"
    version = 2  # version 1: shared/events/funding_v1.py (upcast as it is)
    scope = "up"
    stream = FUNDING

    position_id: str
    fte: float = Field(ge=0.1, le=1.0)
    starts_on: date
    ends_on: date
    status: PositionStatus
    # Optional (added with funding years, so the version stays 1): the rate the grant is computed at.
    qualification: Qualification | None = None


@contract
class PositionOccupancyChanged(Contract):
    """A position became occupied or vacant (re-fillable)."""

    event_type = "PositionOccupancyChanged"
    version = 2  # version 1: shared/events/funding_v1.py (upcast as it is)
    scope = "up"
    stream = FUNDING

    position_id: str
    occupied: bool
    since: date
    status: PositionStatus


@contract
class ExtensionApplied(Contract):
    """A municipality applied to extend a position (by 24 months, or by 12 after an interruption) or for a new one."""

    event_type = "ExtensionApplied"
    version = 2  # version 1: shared/events/funding_v1.py (upcast as it is)
    scope = "up"
    stream = FUNDING

    application_id: str
    position_id: str
    applied_on: date
    current_ends_on: date
    requested_ends_on: date
    # Optional (added in v2 of the API, so the version stays 1): what the officer deciding needs.
    # The justification is the municipality's text about a position, not about a person.
    kind: ExtensionKind = ExtensionKind.extension_24_months
    justification: str | None = Field(default=None, max_length=JUSTIFICATION_MAX)
    interruption_from: date | None = None
    interruption_to: date | None = None


@contract
class ExtensionDecided(Contract):
    """The state decided an application, an extension's or a new position's (sent down to the applying node)."""

    event_type = "ExtensionDecided"
    version = 2  # version 1: shared/events/funding_v1.py (upcast as it is)
    scope = "down"
    stream = FEDERATION  # on the state it goes to lotse:fed:down:<node>; that node's relay republishes it here

    application_id: str
    position_id: str
    approved: bool
    decided_on: date
    reason: str | None = Field(default=None, max_length=2000)
    # Optional (added later, version stays 1): the months approved when fewer than asked; None: as asked.
    # Up to 60 since new positions are applied for (an approval runs at most five years).
    months: int | None = Field(default=None, ge=1, le=60)
    # Optional (added with new-position applications, version stays 1): the kind decided; None from older states.
    kind: ExtensionKind | None = None


@contract
class ExtensionWithdrawn(Contract):
    """A municipality withdrew an application (an extension's or a new position's) before the state decided it."""

    event_type = "ExtensionWithdrawn"
    version = 1
    scope = "up"
    stream = FUNDING

    application_id: str
    position_id: str
    withdrawn_on: date


@contract
class FundingYearSet(Contract):
    """The state set a funding year's budget and fixed amounts per full-time position (down to every node)."""

    event_type = "FundingYearSet"
    version = 1
    scope = "down"
    stream = FEDERATION  # on the state it goes to lotse:fed:down:all; every node's relay republishes it

    year: int = Field(ge=2000, le=2099)
    budget_eur: int = Field(ge=0)
    rates_eur: dict[Qualification, int]  # a full-time position's amount per year, by qualification


# A count of people or their consultations as it may leave the node: withheld (null), 0, or at least MIN_CELL.
WithheldCount = Annotated[Literal[0] | Annotated[int, Field(ge=MIN_CELL, le=1_000_000_000)] | None,
                          Field(description=f"null where withheld (1 to {MIN_CELL - 1})")]


class CountedFigures(BaseModel):
    """The counted part of a municipality's annual figures, as the statistics APIs publish them."""

    consultations: WithheldCount
    minutes: WithheldCount
    clients: WithheldCount
    by_topic: dict[Topic, WithheldCount]
    by_mode: dict[Mode, WithheldCount]
    goals: dict[Topic, dict[GoalStatus, WithheldCount]]
    # Optional (added later, so KeyFiguresSubmitted stays version 1); null also where not reported:
    # the household members counselled alongside the clients counselled in the year, and the plans agreed in it.
    household_members: WithheldCount = None
    plans_agreed: WithheldCount = None


@contract
class KeyFiguresSubmitted(Contract, CountedFigures):
    """A municipality submitted its annual figures (Kennzahlen) of a calendar year: aggregated, small cells withheld.

    Counts of people and consultations are null where withheld; positions and FTE count no person.
    """

    event_type = "KeyFiguresSubmitted"
    version = 1
    scope = "up"
    stream = FUNDING

    year: int = Field(ge=2000, le=2099)
    submitted_on: date
    positions: int = Field(ge=0)
    fte: float = Field(ge=0)


# Version 2 of these four widened code lists (a new position's kind and statuses) and the months' range: a version 1
# payload is a valid version 2 payload, so each upcaster passes it on as it is (shared/events/funding_v1.py).
for _event_type in ("PositionRegistered", "PositionOccupancyChanged", "ExtensionApplied", "ExtensionDecided"):
    upcaster(_event_type, 1)(dict)
