"""What the pages get from dependencies (all async: the web app never takes a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from web.client import Api
from web.config import WebConfig
from web.session import WebSession, session_of


@dataclass
class WebState:
    """Built once per app: the node's configuration and the API client."""

    config: WebConfig
    api: Api


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
