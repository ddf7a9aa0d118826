"""The public HTTP API as the web app calls it: with the signed-in user's token, never around it."""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from opentelemetry.propagate import inject
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The API calls the current page made: when each began and ended (the page's Server-Timing header).
API_CALLS: ContextVar[list[tuple[float, float]] | None] = ContextVar("lotse_api_calls", default=None)


class ApiError(Exception):
    """The API refused or failed; `status` and `detail` are its answer."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"API answered {status}")
        self.status = status
        self.detail = detail


class SignedOut(ApiError):
    """401: the token expired or is no longer accepted; the user signs in again."""


class Forbidden(ApiError):
    """403: the user's roles do not allow it."""


class Missing(ApiError):
    """404: missing, or not the user's to see (the API does not tell them apart, nor do we)."""


ERRORS: dict[int, type[ApiError]] = {401: SignedOut, 403: Forbidden, 404: Missing}


class Api:
    """Calls the node's API in-process (all-in-one) or at a base URL (split mode, same origin)."""

    def __init__(self, *, app: ASGIApp | None = None, base_url: str | None = None) -> None:
        if (app is None) == (base_url is None):
            raise ValueError("either the node's app or the API's base URL")
        self.app = app
        self.base_url = base_url
        self._client: httpx.AsyncClient | None = None
        self._routes: ASGIApp | None = None  # made on first use: the app's error handlers are all registered then

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the server's event loop
            self._client = httpx.AsyncClient(base_url=str(self.base_url), timeout=30)
        return self._client

    async def call(self, method: str, path: str, token: str, *, params: dict[str, Any] | None = None,
                   json: Any = None, content: bytes | None = None, content_type: str | None = None,
                   ) -> httpx.Response:
        """One API call with the user's bearer token; the page's trace continues into it.

        The body is `json`, or `content` as it is (an uploaded file) with its `content_type`.
        """
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        inject(headers)
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        if content is None and json is not None:
            content, content_type = jsonlib.dumps(json, separators=(",", ":")).encode(), "application/json"
        if content is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        started = time.perf_counter()
        try:
            if self.app is not None:
                if self._routes is None:
                    self._routes = routes_of(self.app)
                return await in_process(self._routes, method, path, headers, query, content)
            return await self.client.request(method, path, headers=headers, params=query, content=content)
        finally:
            calls = API_CALLS.get()
            if calls is not None:
                calls.append((started, time.perf_counter()))

    async def fetch(self, method: str, path: str, token: str, *, params: dict[str, Any] | None = None,
                    json: Any = None) -> Any:
        """The answer's JSON; any refusal becomes the matching ApiError."""
        return checked(await self.call(method, path, token, params=params, json=json))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


async def together(*calls: Awaitable[Any]) -> list[Any]:
    """Run a page's API calls at once, wait for every one of them, then raise the first failure (in call order).

    `asyncio.gather` returns at the first failure and leaves the other calls running unawaited: their units of
    work could outlive the page's request, and a test client's event loop, ending with that request, dropped
    them without their sessions being closed (a pooled connection stayed read-only: shared/db.py).
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def routes_of(app: ASGIApp) -> ASGIApp:
    """The node's API as the web app calls it in-process: its routes and their error answers.

    An in-process call is the page's own request continued, so it skips the layers that request has
    passed already (access log, trace span, body guard, rate limit, failover replay); everything that
    decides what the caller may do stays, since it is in the routes: the token is verified and the roles
    checked by their dependencies, every read and write audited by the services.
    """
    if not isinstance(app, FastAPI):
        return app
    handlers = {key: handler for key, handler in app.exception_handlers.items() if key not in (500, Exception)}
    routes = ExceptionMiddleware(AsyncExitStackMiddleware(app.router), handlers=handlers)

    async def in_process(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # as the app itself would set it: the routes read its state (contexts, keys)
        await routes(scope, receive, send)

    return in_process


async def in_process(app: ASGIApp, method: str, path: str, headers: dict[str, str], query: dict[str, Any],
                     body: bytes | None) -> httpx.Response:
    """One request to the node's routes in this process, as ASGI: the request a client would send, without
    a client's URL building and parsing (a third of an in-process call's cost with httpx's ASGITransport)."""
    content = body or b""
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if body is not None:
        raw.append((b"content-length", str(len(content)).encode()))
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": urlencode(query).encode(),
        "headers": [(b"host", b"node"), *raw], "client": ("127.0.0.1", 0), "server": ("node", 80), "state": {}}
    answered = asyncio.Event()
    sent = False
    status, response_headers, chunks = 500, [], []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}
        await answered.wait()  # the request has no more body; the "client" leaves once answered
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status, response_headers = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    try:
        await app(scope, receive, send)
    except Exception:  # as a server would: an answer not started yet becomes a 500
        if not chunks:
            status, response_headers, chunks = 500, [], [b""]
    finally:
        answered.set()
    return httpx.Response(status, headers=response_headers, content=b"".join(chunks))


def waited(calls: list[tuple[float, float]]) -> float:
    """How long the page waited for its API calls: the time some call was under way (calls run at once too)."""
    total, reached = 0.0, float("-inf")
    for start, end in sorted(calls):
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


class ApiTiming:
    """Counts a page's API calls and their time into its Server-Timing header (browser tools, bench/web.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        calls: list[tuple[float, float]] = []
        token = API_CALLS.set(calls)

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start" and calls:
                timing = f'api;dur={waited(calls) * 1000:.1f};desc="{len(calls)} API calls"'
                message["headers"] = [*message.get("headers", []), (b"server-timing", timing.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            API_CALLS.reset(token)


def checked(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; else raise SignedOut, Forbidden, Missing or ApiError."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.is_success:
        return body
    detail = body.get("detail") if isinstance(body, dict) else body
    raise ERRORS.get(response.status_code, ApiError)(response.status_code, detail)
