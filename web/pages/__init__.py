"""The web app's pages, one router per area: every module here with a `router` is mounted."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

# The start page first: it owns `/`; the rest follow in name order.
FIRST = ("start", "auth")


def page_routers() -> list[APIRouter]:
    """The router of every page module of this package."""
    names = sorted((m.name for m in pkgutil.iter_modules(__path__)), key=lambda n: (n not in FIRST, n))
    routers = []
    for name in names:
        router = getattr(importlib.import_module(f"{__name__}.{name}"), "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers
