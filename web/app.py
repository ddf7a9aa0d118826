"""The web app: a sub-application served at / of every node (or alone in split mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

from shared.runtime.guard import RequestGuard
from shared.runtime.ratelimit import RateLimit
from shared.telemetry import NO_NATIVE_TELEMETRY
from web.client import Api, ApiTiming
from web.config import WebConfig
from web.csrf import csrf_guard
from web.deps import WebState
from web.failures import register_page_errors
from web.headers import SecurityHeaders
from web.pages import page_routers
from web.session import SessionMiddleware

STATIC = Path(__file__).parent / "static"
# The node's own paths: the web app never answers them, wherever its mount sits among the routes.
NODE_PATHS = ("/api", "/docs", "/redoc", "/static", "/healthz", "/readyz", "/metrics", "/openapi.json")


class PageMount(Mount):
    """Mounted at /: every path except the node's own, so routes added after it still answer."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if any(path == prefix or path.startswith(prefix + "/") for prefix in NODE_PATHS):
            return Match.NONE, {}
        return super().matches(scope)


def build_web(config: WebConfig, api: Api, **kwargs: Any) -> FastAPI:
    """The pages, their assets, their errors; sessions and security headers around all of them."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NO_NATIVE_TELEMETRY,
                  dependencies=[Depends(csrf_guard)], **kwargs)  # every POST checks the CSRF token
    app.state.web = WebState(config, api)
    for router in page_routers():
        app.include_router(router)
    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    register_page_errors(app)
    app.add_middleware(ApiTiming)
    app.add_middleware(SessionMiddleware, config=config)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so it also covers what the session layer sends
    return app


def mount_web(app: FastAPI, settings: Any) -> None:
    """Serve the web app at / of a node's app; it calls that app's API in-process, as its user."""
    config = WebConfig.from_settings(settings)
    api = Api(app=app) if config.api_url is None else Api(base_url=config.api_url)
    app.router.routes.append(PageMount("", app=build_web(config, api), name="web"))


def standalone(settings: Any) -> FastAPI:
    """Split mode (`--services web`): the web app alone, calling the API at LOTSE_WEB_API_URL."""
    config = WebConfig.from_settings(settings)
    if config.api_url is None:
        raise ValueError("LOTSE_WEB_API_URL: required to run the web app on its own")
    api = Api(base_url=config.api_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await api.aclose()

    app = build_web(config, api, lifespan=lifespan)
    add_probes(app, api)
    # Alone, it needs the node's outer layers itself: sign-in attempts limited, bodies bounded before reading.
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    app.add_middleware(RequestGuard, default_limit=settings.max_body_bytes)
    return app


def add_probes(app: FastAPI, api: Api) -> None:
    """/healthz (the process answers) and /readyz (the API it serves pages from answers) when alone."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("alive\n")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            answer = await api.client.get("/healthz", timeout=3)
            reachable = answer.status_code == 200
        except httpx.HTTPError:
            reachable = False
        return JSONResponse({"api": "ok" if reachable else "unreachable"}, status_code=200 if reachable else 503)
