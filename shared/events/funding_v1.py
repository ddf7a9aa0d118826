"""Version 1 of the funding contracts that applications for a new position changed (shared/events/funding.py
has version 2 of each): kept so that an event of an older node still reads, and upcast to version 2 as it is
(a version 1 payload is a valid version 2 payload: version 2 only widened code lists and the months' range)."""

from datetime import date
from enum import StrEnum

from pydantic import Field

from .envelope import Contract
from .funding import Qualification
from .registry import contract
from .streams import FEDERATION, FUNDING

JUSTIFICATION_MAX = 4000


class PositionStatusV1(StrEnum):
    """approved (not yet occupied), occupied, vacant (re-fillable)."""

    approved = "approved"
    occupied = "occupied"
    vacant = "vacant"


class ExtensionKindV1(StrEnum):
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
    status: PositionStatusV1
    # Optional (added with funding years, so the version stays 1): the rate the grant is computed at.
    qualification: Qualification | None = None


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
    status: PositionStatusV1


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
    kind: ExtensionKindV1 = ExtensionKindV1.extension_24_months
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
    # Optional (added later, version stays 1): the months approved when fewer than asked; None: as asked.
    months: int | None = Field(default=None, ge=1, le=24)
