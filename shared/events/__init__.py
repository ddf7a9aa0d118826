"""Event contracts: the envelope, the versioned payload models, the catalogue."""

from typing import Any

from . import cases, federation, funding, plans  # noqa: F401  (registers the contracts)
from .envelope import Contract, Envelope, Scope, TraceContext, new_event_id, utcnow
from .registry import UnknownEvent, contracts, latest, parse_payload

# Each producing service appends to one stream; consumers subscribe by stream.
STREAMS = {
    "cases": "lotse:events:cases",
    "plans": "lotse:events:plans",
    "funding": "lotse:events:funding",
    "notifications": "lotse:events:notifications",
    "federation": "lotse:events:federation",
}
DEAD_LETTERS = "lotse:dlq"


def envelope_for(
    payload: Contract,
    *,
    tenant: str,
    node: str,
    aggregate_id: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    trace: dict[str, Any] | None = None,
    target_node: str | None = None,
) -> Envelope:
    """Wrap a contract instance in an envelope."""
    return Envelope(
        type=payload.event_type,
        version=payload.version,
        tenant=tenant,
        node=node,
        aggregate_id=aggregate_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        trace=TraceContext(**(trace or {})),
        scope=payload.scope,
        target_node=target_node,
        payload=payload.model_dump(mode="json"),
    )


__all__ = [
    "DEAD_LETTERS", "STREAMS", "Contract", "Envelope", "Scope", "TraceContext", "UnknownEvent",
    "contracts", "envelope_for", "latest", "new_event_id", "parse_payload", "utcnow",
]
