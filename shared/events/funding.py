"""Contracts of the funding domain: positions, extension applications and decisions."""

from datetime import date
from enum import StrEnum

from pydantic import Field

from .codes import PositionStatus
from .envelope import Contract
from .registry import contract
from .streams import FEDERATION, FUNDING

JUSTIFICATION_MAX = 4000  # the municipality's justification of an extension application


class ExtensionKind(StrEnum):
    """What an application asks for: 24 more months, or 12 after salary payments were interrupted."""

    extension_24_months = "extension_24_months"
    interruption_12_months = "interruption_12_months"


@contract
class PositionRegistered(Contract):
    """A municipality registered a funded manager position."""

    event_type = "PositionRegistered"
    version = 1
    scope = "up"
    stream = FUNDING

    position_id: str
    fte: float = Field(ge=0.1, le=1.0)
    starts_on: date
    ends_on: date
    status: PositionStatus


@contract
class PositionOccupancyChanged(Contract):
    """A position became occupied or vacant (re-fillable)."""

    event_type = "PositionOccupancyChanged"
    version = 1
    scope = "up"
    stream = FUNDING

    position_id: str
    occupied: bool
    since: date
    status: PositionStatus


@contract
class ExtensionApplied(Contract):
    """A municipality applied to extend a position (by 24 months, or by 12 after an interruption)."""

    event_type = "ExtensionApplied"
    version = 1
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
    """The state decided an extension application (sent down to the applying node)."""

    event_type = "ExtensionDecided"
    version = 1
    scope = "down"
    stream = FEDERATION  # on the state it goes to lotse:fed:down:<node>; that node's relay republishes it here

    application_id: str
    position_id: str
    approved: bool
    decided_on: date
    reason: str | None = Field(default=None, max_length=2000)
