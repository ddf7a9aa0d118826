"""The public HTTP API as the web app calls it: with the signed-in user's token, never around it."""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry.propagate import inject
from starlette.types import ASGIApp

IN_PROCESS = "http://node"


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

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the server's event loop
            if self.app is not None:
                transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
                self._client = httpx.AsyncClient(transport=transport, base_url=IN_PROCESS, timeout=30)
            else:
                self._client = httpx.AsyncClient(base_url=str(self.base_url), timeout=30)
        return self._client

    async def call(self, method: str, path: str, token: str, *, params: dict[str, Any] | None = None,
                   json: Any = None) -> httpx.Response:
        """One API call with the user's bearer token; the page's trace continues into it."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        inject(headers)
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self.client.request(method, path, headers=headers, params=query, json=json)

    async def fetch(self, method: str, path: str, token: str, *, params: dict[str, Any] | None = None,
                    json: Any = None) -> Any:
        """The answer's JSON; any refusal becomes the matching ApiError."""
        return checked(await self.call(method, path, token, params=params, json=json))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


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
