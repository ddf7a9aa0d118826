"""Contracts of the funding domain: positions, extension applications and decisions."""

from datetime import date

from pydantic import Field

from .codes import PositionStatus
from .envelope import Contract
from .registry import contract
from .streams import FEDERATION, FUNDING


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
    """A municipality applied to extend a position by 24 months."""

    event_type = "ExtensionApplied"
    version = 1
    scope = "up"
    stream = FUNDING

    application_id: str
    position_id: str
    applied_on: date
    current_ends_on: date
    requested_ends_on: date


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
