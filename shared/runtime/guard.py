"""The node's outermost HTTP layer: a caller is known, and a body fits its route, before any byte is read.

A body over its route's limit answers 413 from its Content-Length, or as soon as a chunked body passes
the limit, without reading the rest; an /api/ request without a valid bearer token answers 401 before
its body is read. Routes that need more than the default declare it with `max_body(n)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Authenticator, TokenError

API = "/api/"
LIMIT_KEY = "x-max-body-bytes"  # a route's own limit, in its OpenAPI operation (so clients see it too)
PRINCIPAL = "principal"  # where the guard leaves the verified caller in the request's state


def max_body(n: int) -> dict[str, Any]:
    """`openapi_extra` of a route that accepts bodies up to n bytes instead of the node's default."""
    return {LIMIT_KEY: n}


@dataclass(frozen=True)
class RouteLimit:
    path: re.Pattern[str]
    limit: int


def route_limits(app: Any) -> list[RouteLimit]:
    """The routes that declared a limit of their own (openapi_extra x-max-body-bytes)."""
    found = []
    for route in getattr(app, "routes", []):
        extra = getattr(route, "openapi_extra", None) or {}
        if LIMIT_KEY in extra and hasattr(route, "path_regex"):
            found.append(RouteLimit(route.path_regex, int(extra[LIMIT_KEY])))
    return found


async def answer(send: Send, status: int, body: dict[str, Any],
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def too_large(limit: int) -> dict[str, Any]:
    return {"detail": [{"field": "body", "reason": f"larger than this route accepts ({limit} bytes)"}]}


class RequestGuard:
    """Body limits for every request; authentication of /api/ requests before their bodies."""

    def __init__(self, app: ASGIApp, *, default_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self._limits: list[RouteLimit] | None = None

    def limit_for(self, scope: Scope) -> int:
        if self._limits is None:  # the routes are complete once the first request arrives
            self._limits = route_limits(scope.get("app"))
        path = scope["path"]
        return next((r.limit for r in self._limits if r.path.match(path)), self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            await answer(send, 413, too_large(limit))
            return
        if scope["path"].startswith(API) and not await self.authenticated(scope, send):
            return
        body = BoundedBody(limit, receive, send)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.refused:  # else the app merely failed to read what the client never got to send
                raise

    async def authenticated(self, scope: Scope, send: Send) -> bool:
        """Verify the bearer token (401 if none or invalid); the route's dependency reuses the caller."""
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        reason = "missing bearer token"
        if scheme.lower() == "bearer" and token:
            authenticator: Authenticator = scope["app"].state.authenticator
            try:
                # A dev token or one verified lately: no I/O; else the issuer's keys may have to be fetched.
                principal = (await run_in_threadpool(authenticator.verify, token)
                             if authenticator.oidc_issuer and authenticator.cached(token) is None
                             else authenticator.verify(token))
            except TokenError as exc:
                reason = str(exc)
            else:
                scope.setdefault("state", {})[PRINCIPAL] = principal
                return True
        await answer(send, 401, {"detail": reason}, [(b"www-authenticate", b"Bearer")])
        return False


class BoundedBody:
    """receive/send for the app: past the limit, the client gets 413 and the app a disconnect."""

    def __init__(self, limit: int, receive: Receive, send: Send) -> None:
        self.limit, self._receive, self._send = limit, receive, send
        self.received, self.refused, self.started = 0, False, False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.refused = True
                if not self.started:
                    await answer(self._send, 413, too_large(self.limit))
                return {"type": "http.disconnect"}  # the app stops reading; the rest is never read
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the client already has its 413
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
