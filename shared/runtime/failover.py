"""A request whose database connection was dropped before its commit (a failover) is run once more.

PostgreSQL failing over ends every connection; the pool's pre-ping replaces them for the next unit of
work, but one under way when it happened fails. If it failed before its commit was even attempted,
nothing was written, so the node runs the request again itself (once, after a short pause) instead of
answering 503. A failure during the commit is never retried: its outcome is unknown.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http import RETRY_SAFE

API = "/api/"


class RetryAfterFailover:
    """Buffers an /api/ request's body (bounded by the guard outside) to run it a second time if need be."""

    def __init__(self, app: ASGIApp, *, pause_s: float = 0.5) -> None:
        self.app, self.pause_s = app, pause_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before it finished sending
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        for last in (False, True):
            state = scope.setdefault("state", {})
            state.pop(RETRY_SAFE, None)
            if await self._attempt(scope, body, receive, send, retry_allowed=not last):
                return
            await asyncio.sleep(self.pause_s)

    async def _attempt(self, scope: Scope, body: bytes, receive: Receive, send: Send, *, retry_allowed: bool) -> bool:
        """Run the request once; False when it failed retry-safe and nothing of its answer was sent."""
        delivered = False
        withheld = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the client's disconnect

        async def answer(message: Message) -> None:
            nonlocal withheld
            if message["type"] == "http.response.start" and retry_allowed and message["status"] == 503 \
                    and scope.get("state", {}).get(RETRY_SAFE):
                withheld = True
            if not withheld:
                await send(message)

        await self.app(scope, replay, answer)
        return not withheld
