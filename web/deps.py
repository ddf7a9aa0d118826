"""What the pages get from dependencies (all async: the web app never takes a worker thread)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from web.client import Api
from web.config import WebConfig
from web.session import WebSession, session_of

# The header's unread counter is asked of the API at most this often per user, except on the inbox itself,
# which always shows it fresh: every page would otherwise make one API call more.
UNREAD_TTL_S = 15.0


class Remembered:
    """A value per signed-in user (by token), remembered for `ttl_s`; bounded, oldest dropped first."""

    def __init__(self, ttl_s: float, size: int = 4096) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        hit = self._values.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: str, value: Any) -> None:
        self._values.pop(key, None)
        if len(self._values) >= self.size:
            self._values.pop(next(iter(self._values)))
        self._values[key] = (time.monotonic() + self.ttl_s, value)


@dataclass
class WebState:
    """Built once per app: the node's configuration, the API client, the header counters it remembers."""

    config: WebConfig
    api: Api
    unread: Remembered = field(default_factory=lambda: Remembered(UNREAD_TTL_S))



class NeedsSignIn(Exception):
    """A page for signed-in users was asked for without a session (or after the idle timeout)."""

    def __init__(self, expired: bool) -> None:
        super().__init__("sign-in required")
        self.expired = expired


async def web_state(request: Request) -> WebState:
    return request.app.state.web  # type: ignore[no-any-return]


async def visitor(request: Request) -> WebSession:
    return session_of(request)


async def signed_in(request: Request) -> WebSession:
    """The signed-in user's session; anyone else is sent to the sign-in page."""
    session = session_of(request)
    if not session.signed_in:
        raise NeedsSignIn(expired=session.expired)
    return session


Web = Annotated[WebState, Depends(web_state)]
Visitor = Annotated[WebSession, Depends(visitor)]
User = Annotated[WebSession, Depends(signed_in)]
