"""Security headers on every answer of the web app; pages are never stored by browsers or proxies."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
ASSETS = "/assets/"  # the package's own CSS, JS and images: the same for everyone, cacheable


class SecurityHeaders:
    """Adds the CSP and friends; everything but the assets (pages hold personal data) is no-store.

    With `defaults_only`, a header the app already set wins (the node's layer under its pages' own).
    """

    def __init__(self, app: ASGIApp, headers: Sequence[tuple[bytes, bytes]] = tuple(HEADERS),
                 cacheable: tuple[str, ...] = (ASSETS,), defaults_only: bool = False) -> None:
        self.app, self.headers, self.cacheable, self.defaults_only = app, list(headers), cacheable, defaults_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = not scope["path"].startswith(self.cacheable)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if not (private and h[0].lower() == b"cache-control")]
                present = {k.lower() for k, _ in headers} if self.defaults_only else set()
                headers.extend(h for h in self.headers if h[0] not in present)
                if private:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
