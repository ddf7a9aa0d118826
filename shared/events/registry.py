"""The catalogue: event type -> versioned contract, with upcasters from older versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .envelope import Contract, Envelope
from .streams import FED_DOWN, FED_UP, FEDERATION, STREAMS

C = TypeVar("C", bound=type[Contract])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_contracts: dict[tuple[str, int], type[Contract]] = {}
_latest: dict[str, type[Contract]] = {}
_upcasters: dict[tuple[str, int], Upcaster] = {}


class UnknownEvent(LookupError):
    """No contract is registered for this type/version."""


@dataclass(frozen=True)
class Hop:
    """One stream an event is appended to on its way: on whose Redis, and by what."""

    stream: str
    redis: Literal["node", "municipal", "state"]  # "node": the producing node, whichever it is
    by: str


def _check_stream(cls: type[Contract]) -> None:
    stream = getattr(cls, "stream", None)
    if stream not in (*STREAMS.values(), FED_UP):
        raise ValueError(f"{cls.__name__}: declare `stream` as one of shared/events/streams.py, not {stream!r}")
    if cls.scope == "down" and stream != FEDERATION:  # the relay republishes what comes down there
        raise ValueError(f"{cls.__name__}: a down-scoped contract arrives on {FEDERATION}")
    if stream == FED_UP and cls.scope != "up":
        raise ValueError(f"{cls.__name__}: only up-scoped contracts travel on {FED_UP}")


def contract(cls: C) -> C:
    """Class decorator: register a contract under (event_type, version); it must declare its stream."""
    _check_stream(cls)
    key = (cls.event_type, cls.version)
    if key in _contracts:
        raise ValueError(f"contract {key} registered twice")
    _contracts[key] = cls
    if cls.event_type not in _latest or _latest[cls.event_type].version < cls.version:
        _latest[cls.event_type] = cls
    return cls


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a payload of `from_version` into `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        _upcasters[(event_type, from_version)] = fn
        return fn

    return register


def contracts() -> dict[tuple[str, int], type[Contract]]:
    return dict(_contracts)


def stream_of(contract: type[Contract]) -> str:
    """The stream the contract's consumers read it from, as the contract declares."""
    return contract.stream


def route(contract: type[Contract]) -> tuple[Hop, ...]:
    """Every stream the contract's events are appended to, in order, the federation hop included."""
    stream = contract.stream
    if contract.scope == "down":
        return (Hop(FED_DOWN, "state", "the state's outbox, addressed to one node"),
                Hop(stream, "municipal", "that node's federation relay"))
    if contract.relayed:
        return (Hop(stream, "municipal", "the sending node's outbox"),
                Hop(FED_UP, "state", "the sending node's federation relay, signed"),
                Hop(FED_DOWN, "state", "the state's federation ingest, to the node it is addressed to, unread"),
                Hop(FEDERATION, "municipal", "the receiving node's federation relay"))
    if contract.scope == "up" and stream == FED_UP:
        return (Hop(FED_UP, "state", "the municipal node's federation relay, signed"),)
    if contract.scope == "up":
        return (Hop(stream, "municipal", "the producing service's outbox"),
                Hop(FED_UP, "state", "the municipal node's federation relay, pseudonymised and signed"),
                Hop(stream, "state", "the state's federation ingest, once the signature checks"))
    return (Hop(stream, "node", "the producing service's outbox"),)


def latest(event_type: str) -> type[Contract]:
    try:
        return _latest[event_type]
    except KeyError:
        raise UnknownEvent(f"unknown event type {event_type!r}") from None


def parse_payload(envelope: Envelope) -> Contract:
    """Validate the envelope's payload against its contract, upcasting it to the latest version."""
    if (envelope.type, envelope.version) not in _contracts:
        raise UnknownEvent(f"unknown event {envelope.type} v{envelope.version}")
    payload, version = dict(envelope.payload), envelope.version
    target = latest(envelope.type)
    while version < target.version:
        step = _upcasters.get((envelope.type, version))
        if step is None:
            raise UnknownEvent(f"no upcaster for {envelope.type} v{version}")
        payload, version = step(payload), version + 1
    return target.model_validate(payload)
