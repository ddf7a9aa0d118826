"""Security headers on every answer of the node (ASVS V14): nothing with case contents is ever stored."""

from __future__ import annotations

from starlette.types import ASGIApp

from web.headers import ASSETS, SecurityHeaders

# Unless a page set its own (the web app and the docs pages do): a JSON answer loads nothing, frames nothing.
DEFAULTS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The package's own assets (the docs' and the web app's): the same for everyone, so they may be cached.
CACHEABLE = ("/static/", ASSETS)


def node_headers(app: ASGIApp) -> SecurityHeaders:
    """The node's layer: its defaults under what a page set, and Cache-Control: no-store but on assets."""
    return SecurityHeaders(app, DEFAULTS, CACHEABLE, defaults_only=True)
