"""Contracts of the federation link itself."""

from pydantic import Field

from .envelope import Contract
from .registry import contract
from .streams import FED_UP, FEDERATION


@contract
class NodeHeartbeat(Contract):
    """A municipal node's periodic sign of life with its health figures."""

    event_type = "NodeHeartbeat"
    version = 1
    scope = "up"
    stream = FED_UP  # the relay sends it straight up; the state's ingest reads it (no local stream)

    version_string: str = Field(max_length=40)
    relay_lag: int = Field(ge=0)
    outbox_backlog: int = Field(ge=0)
    dead_letters: int = Field(ge=0)


@contract
class NodeSilent(Contract):
    """The state node has not heard from a municipal node for longer than the threshold."""

    event_type = "NodeSilent"
    version = 1
    scope = "local"
    stream = FEDERATION

    node_id: str = Field(max_length=63)
    last_seen_at: str | None = None
    silent_for_s: int = Field(ge=0)
