"""What a refused or failed request shows: the sign-in page, a 403/404 page, or an error page."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from web.client import ApiError, Forbidden, Missing, SignedOut
from web.csrf import CsrfRefused
from web.deps import NeedsSignIn
from web.i18n import N_
from web.render import is_htmx, page
from web.session import session_of

log = logging.getLogger(__name__)


def local_path(url: str | None, default: str = "/") -> str:
    """The path (and query) of a URL of this site; anything pointing elsewhere becomes `default`."""
    parts = urlsplit(url or "")
    path = parts.path
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path + (f"?{parts.query}" if parts.query else "")


def reload_page(request: Request, status: int) -> Response:
    """An HTMX request that failed loads the whole page again: the page then shows what is wrong."""
    target = local_path(request.headers.get("hx-current-url"))
    return Response(status_code=status, headers={"HX-Redirect": target})


def to_sign_in(request: Request, message: str | None) -> Response:
    session = session_of(request)
    if message:
        session.say(message)
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


def register_page_errors(app: FastAPI) -> None:
    """Map the web app's and the API's refusals to pages; a 404 looks the same whatever its cause."""

    @app.exception_handler(NeedsSignIn)
    async def _sign_in(request: Request, exc: NeedsSignIn) -> Response:
        return to_sign_in(request, N_("You were signed out after 30 minutes without activity.")
                          if exc.expired else None)

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, exc: SignedOut) -> Response:
        session_of(request).sign_out()
        return to_sign_in(request, N_("Your sign-in has ended. Please sign in again."))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        if is_htmx(request):
            session_of(request).say(N_("The form had expired. Please try again."))
            return reload_page(request, 403)
        return await page(request, "refused.html", status_code=403)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return reload_page(request, 403) if is_htmx(request) else await page(request, "forbidden.html", status_code=403)

    @app.exception_handler(Missing)
    async def _missing(request: Request, exc: Missing) -> Response:
        return reload_page(request, 404) if is_htmx(request) else await page(request, "not_found.html", status_code=404)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return await page(request, "not_found.html", status_code=404)
        return await page(request, "error.html", status_code=exc.status_code)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        log.warning("the API answered %s to a page", exc.status)
        status = exc.status if 400 <= exc.status < 500 else 502
        if is_htmx(request):
            return reload_page(request, status)
        return await page(request, "error.html", status_code=status)
