"""CSRF protection: a synchronizer token in every form (and in HTMX's X-CSRF-Token header)."""

from __future__ import annotations

import hmac

from fastapi import Request

from web.session import session_of

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CsrfRefused(Exception):
    """A state-changing request came without the session's token: answered with a 403 page."""


async def csrf_guard(request: Request) -> None:
    """Dependency of every web route: refuse unsafe methods without the session's token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    expected = session_of(request).csrf
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()
