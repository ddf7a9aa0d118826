"""The node's HTTP app: its services' routes, health, metrics, offline API docs and the access log."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import VERSION
from shared.http import register_error_handlers
from shared.runtime import operations
from shared.runtime.apidocs import mount_docs
from shared.runtime.failover import RetryAfterFailover
from shared.runtime.guard import RequestGuard
from shared.runtime.headers import node_headers
from shared.runtime.logging import current_trace_id
from shared.runtime.openapi import node_openapi
from shared.runtime.ratelimit import RateLimit
from shared.settings import WEB
from shared.telemetry import NO_NATIVE_TELEMETRY
from web.app import mount_web

if TYPE_CHECKING:
    from shared.runtime.node import Node

HTTP_LATENCY = Histogram("lotse_http_request_seconds", "HTTP request latency", ["method", "route", "status"])
access_log = logging.getLogger("lotse.access")
log = logging.getLogger(__name__)


def route_template(scope: Scope, root: str, templates: Sequence[tuple[re.Pattern[str], str]] = ()) -> str:
    """The matched route's template, as the router left it on this scope; a mount's prefix + /{path}.

    A request the guard refused before routing (401, 413, 429), and one whose route knows only its own part of
    the path (a router included into another), is matched against the API's templates here.
    """
    path = scope.get("path", "")
    if (route := getattr(scope.get("route"), "path", None)) is not None:
        regex = getattr(scope.get("route"), "path_regex", None)
        if regex is None or regex.match(path):
            return str(route)
        # A route of a router included into another router: its own template lacks the outer prefix.
        return next((template for pattern, template in templates if pattern.fullmatch(path)), str(route))
    mounted = scope.get("root_path", "")  # a mount moves its prefix into root_path for its app
    if len(mounted) > len(root):
        return f"{mounted[len(root):]}/{{path}}"
    return next((template for pattern, template in templates if pattern.fullmatch(path)), "unmatched")


def path_patterns(paths: Sequence[str]) -> list[tuple[re.Pattern[str], str]]:
    """The OpenAPI document's path templates as patterns ({case_id} matches one segment)."""
    return [(re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p))), p) for p in paths]


class AccessMiddleware:
    """Per request: latency metric and one access log line (plain ASGI: no extra task per request).

    The line names the route template, never the path, query, body or caller: those may hold names.
    """

    def __init__(self, app: ASGIApp, paths: Callable[[], Sequence[str]] = tuple) -> None:
        self.app = app
        self._paths = paths  # the API's path templates, to name a request refused before routing
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    def templates(self) -> list[tuple[re.Pattern[str], str]]:
        if self._templates is None:
            try:
                self._templates = path_patterns(self._paths())
            except Exception:  # the log line must never fail a request: name it "unmatched" then
                log.exception("the API's path templates are not available to the access log")
                self._templates = []
        return self._templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status, root = time.perf_counter(), 500, scope.get("root_path", "")

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope, root, self.templates())
            HTTP_LATENCY.labels(scope["method"], route, str(status)).observe(elapsed)
            # The OpenTelemetry middleware wraps this one, so the request's span is still current.
            access_log.info("request", extra={"method": scope["method"], "route": route, "status": status,
                                              "duration_ms": round(elapsed * 1000, 2), "trace_id": current_trace_id()})


def field_of(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """The field a validation error names: its path without the location (`body`, `query`)."""
    path = [str(p) for p in loc[1:]]
    if not path or (loc[0] == "body" and path[0].isdigit()):  # a body that is not JSON: a position in it
        return str(loc[0])
    return ".".join(path)


def build_app(node: Node) -> FastAPI:
    """One origin for the node's services: /api/<service>/..., /healthz, /readyz, /metrics, /docs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Few request threads: each SQLite database has one writer at a time anyway, and fewer
        # threads contend less for the GIL with the relays and consumers.
        anyio.to_thread.current_default_thread_limiter().total_tokens = node.settings.http_threads
        await node.start()
        yield
        await node.stop()

    # The docs pages are our own (mount_docs): their assets come from this node, never a CDN.
    app = FastAPI(title=f"Lotse node {node.settings.node_id}", version=VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, telemetry=NO_NATIVE_TELEMETRY)
    app.state.node = node
    app.state.authenticator = node.authenticator
    app.state.contexts = node.contexts
    for level in node.levels.values():
        if level.router is not None:
            app.include_router(level.router)
    app.include_router(operations.router)  # /api/node/v1: the node's own health, for node_admin
    register_error_handlers(app)
    mount_docs(app)
    app.openapi = lambda: node_openapi(app)  # type: ignore[method-assign]
    if WEB in node.settings.services:
        mount_web(app, node.settings)  # the web app at /: every path but the node's own (/api, /docs, ...)

    # The last added is the outermost. Before the guard, nothing reads a body: the guard knows its size
    # and its caller first; its own 401/413 answers still get the headers and the access log line.
    app.add_middleware(RetryAfterFailover)  # innermost: replays a body the guard has already bounded
    app.add_middleware(RateLimit, per_minute=node.settings.rate_limit_per_minute,
                       burst=node.settings.rate_limit_burst)  # inside the guard: it knows the caller
    app.add_middleware(RequestGuard, default_limit=node.settings.max_body_bytes)
    app.add_middleware(node_headers)  # type: ignore[arg-type]  # a factory of the middleware, as Starlette allows
    app.add_middleware(AccessMiddleware, paths=lambda: list(app.openapi().get("paths", {})))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # "body.fte" -> "fte", "query.limit" -> "limit", a missing body -> "body", undecodable JSON -> "body"
        errors = [{"field": field_of(e["loc"]), "reason": e["msg"].removeprefix("Value error, ")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (a body it cannot decode at all)
            return JSONResponse({"detail": [{"field": "body", "reason": "cannot be parsed"}]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "node": node.settings.node_id}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await node.ready()
        return JSONResponse({"ready": all(checks.values()), "checks": checks},
                            status_code=200 if all(checks.values()) else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # One span per request: the ASGI send/receive spans (two or three more per request) tell an operator nothing.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])
    return app
