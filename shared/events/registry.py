"""The catalogue: event type -> versioned contract, with upcasters from older versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .envelope import Contract, Envelope

C = TypeVar("C", bound=type[Contract])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_contracts: dict[tuple[str, int], type[Contract]] = {}
_latest: dict[str, type[Contract]] = {}
_upcasters: dict[tuple[str, int], Upcaster] = {}


class UnknownEvent(LookupError):
    """No contract is registered for this type/version."""


def contract(cls: C) -> C:
    """Class decorator: register a contract under (event_type, version)."""
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
