"""Subscriptions of the cases service: none, it only produces (the case file is its own source)."""

from __future__ import annotations

from shared.bus import Subscription
from shared.service import ServiceContext


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The cases service reacts to no event: case files change only through its API."""
    return []
