"""Hand-over of a case to another municipality (the client moves): sealed parcels the state relays unread.

The case file and the plan travel as two parcels, each signed by the sending node and sealed for the receiving
node's X25519 key alone (libsodium sealed box: shared/federation/boxes.py). The state checks the envelope's
signature and the address, and appends the parcel to the receiving node's downward stream: it never holds a
key that opens one. The receiving lead's answer travels back the same way. The nodes find each other's keys
in the directory the state sends down.
"""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Contract
from .registry import contract
from .streams import CASES, FED_UP, FEDERATION, PLANS

AGS = r"^\d{8}$"
ULID = Field(min_length=26, max_length=26)
SEALED_MAX = 8_000_000  # base64 of a sealed parcel: a long case history with its plan fits many times


class Addressed(Contract):
    """A relayed contract: the state forwards it to `to_node` (a node serving `to_tenant`) without reading it."""

    relayed: ClassVar[bool] = True

    handover_id: str = ULID
    from_tenant: str = Field(pattern=AGS)
    to_node: str = Field(min_length=1, max_length=63)
    to_tenant: str = Field(pattern=AGS)


@contract
class CaseHandedOver(Addressed):
    """The case file and its history, sealed for the receiving node (relayed by the state unread)."""

    event_type = "CaseHandedOver"
    version = 1
    scope = "up"
    stream = CASES  # on the receiving node it arrives on the federation stream (shared/events/registry.py)

    sealed: str = Field(min_length=1, max_length=SEALED_MAX)


@contract
class PlanHandedOver(Addressed):
    """The case's integration plan, sealed for the receiving node (relayed by the state unread)."""

    event_type = "PlanHandedOver"
    version = 1
    scope = "up"
    stream = PLANS

    sealed: str = Field(min_length=1, max_length=SEALED_MAX)


@contract
class HandoverAnswered(Addressed):
    """The receiving lead accepted or declined a hand-over; back to the sending node, which then erases."""

    event_type = "HandoverAnswered"
    version = 1
    scope = "up"
    stream = CASES
    local_only_fields = ("case_id", "sender_sign_key")

    accepted: bool
    # Local only, for the receiving node's plans service: the case opened there, the sender's signing key
    case_id: str | None = Field(default=None, max_length=26)
    sender_sign_key: str | None = Field(default=None, max_length=100)


@contract
class HandoverStarted(Contract):
    """A lead handed a case over: the plans service seals the plan for the same receiving node (local)."""

    event_type = "HandoverStarted"
    version = 1
    scope = "local"
    stream = CASES

    handover_id: str = ULID
    case_id: str = ULID
    from_tenant: str = Field(pattern=AGS)
    to_node: str = Field(min_length=1, max_length=63)
    to_tenant: str = Field(pattern=AGS)
    box_key: str = Field(min_length=1, max_length=100)  # the receiving node's public X25519 key


@contract
class NodeBoxKey(Contract):
    """A municipal node's public X25519 key, for parcels sealed for it (signed with its node key)."""

    event_type = "NodeBoxKey"
    version = 1
    scope = "up"
    stream = FED_UP  # the relay sends it straight up; the state's ingest keeps it in its registry

    box_key: str = Field(min_length=1, max_length=100)


class DirectoryEntry(BaseModel):
    """One municipal node in the directory: its id, the municipalities it serves, its public keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str = Field(min_length=1, max_length=63)
    tenants: list[str]
    box_key: str = Field(min_length=1, max_length=100)  # X25519: parcels are sealed for it
    sign_key: str = Field(min_length=1, max_length=100)  # Ed25519: its parcels are signed with it


@contract
class NodeDirectory(Contract):
    """The state's directory of municipal nodes, sent down to every node whenever a node's key changes."""

    event_type = "NodeDirectory"
    version = 1
    scope = "down"
    stream = FEDERATION

    nodes: list[DirectoryEntry] = Field(max_length=5000)
