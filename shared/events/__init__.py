"""Event contracts: the envelope, the versioned payload models, the catalogue."""

from typing import Any

from . import cases, federation, funding, funding_v1, handover, plans  # noqa: F401  (registers the contracts)
from .envelope import Contract, Envelope, Scope, TraceContext, new_event_id, utcnow
from .registry import Hop, UnknownEvent, contracts, latest, parse_payload, route, stream_of
from .streams import DEAD_LETTERS, STREAMS

_validate_envelope = Envelope.__pydantic_validator__.validate_python
_UNTRACED = TraceContext()  # frozen: every untraced envelope shares it


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
    """Wrap a contract instance in an envelope.

    Validated as one dict, its id and time given, the payload dumped by its serializer itself: keyword arguments,
    the fields' default factories and model_dump's argument handling cost about 50 % more, and every event a
    service emits pays for this (docs/benchmarks.md, issue 14).
    """
    return _validate_envelope({
        "event_id": new_event_id(), "occurred_at": utcnow(), "type": payload.event_type,
        "version": payload.version, "tenant": tenant, "node": node, "aggregate_id": aggregate_id,
        "correlation_id": correlation_id, "causation_id": causation_id,
        "trace": TraceContext(**trace) if trace else _UNTRACED, "scope": payload.scope,
        "target_node": target_node, "payload": payload.__pydantic_serializer__.to_python(payload, mode="json"),
    })


__all__ = [
    "DEAD_LETTERS", "STREAMS", "Contract", "Envelope", "Hop", "Scope", "TraceContext", "UnknownEvent",
    "contracts", "envelope_for", "latest", "new_event_id", "parse_payload", "route", "stream_of", "utcnow",
]
