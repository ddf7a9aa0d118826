"""The browser session: one cookie, encrypted and signed (Fernet), holding the signed-in user's token."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.config import WebConfig

COOKIE = "lotse_session"
LANG_COOKIE = "lotse_lang"
POLL_HEADER = b"x-lotse-poll"  # sent by self-refreshing parts of a page (hx-headers)
REFRESH_S = 60.0  # an active session's cookie is rewritten at most once a minute
MAX_COOKIE = 4096 - 256  # browsers keep 4096 bytes of name and value; room left for a one-time message
clock = time.time  # the session clock (tests move it to check the idle timeout)


@dataclass
class WebSession:
    """What the cookie holds: the user (token, sub, roles, tenants), the CSRF token, a one-time message."""

    csrf: str = ""
    token: str | None = None
    sub: str | None = None
    roles: list[str] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    last_seen: float = 0.0
    flash: str | None = None
    changed: bool = field(default=False, repr=False)
    expired: bool = field(default=False, repr=False)  # signed out by the idle timeout on this request

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def csrf_token(self) -> str:
        """The session's synchronizer token, made on first use."""
        if not self.csrf:
            self.csrf = secrets.token_urlsafe(32)
            self.changed = True
        return self.csrf

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles).intersection(roles))

    def sign_in(self, *, token: str, sub: str, roles: list[str], tenants: list[str]) -> None:
        """Start a user's session; a new CSRF token, so one fixed before sign-in is worthless."""
        self.token, self.sub, self.roles, self.tenants = token, sub, list(roles), list(tenants)
        self.csrf, self.last_seen, self.changed = secrets.token_urlsafe(32), clock(), True

    def sign_out(self) -> None:
        """Forget the user and the CSRF token; what is left is an anonymous session."""
        self.token, self.sub, self.roles, self.tenants = None, None, [], []
        self.csrf, self.changed = secrets.token_urlsafe(32), True

    def say(self, message: str) -> None:
        """A message (catalogue id) to show once on the next page."""
        self.flash, self.changed = message, True

    def take_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message is not None:
            self.changed = True
        return message

    def stored(self) -> dict[str, Any]:
        values = asdict(self)
        del values["changed"], values["expired"]
        return values

    def fits(self) -> bool:
        """Whether its cookie stays within what browsers keep: a larger one is dropped without a word."""
        plain = len(json.dumps(self.stored()).encode())
        fernet = 1 + 8 + 16 + 16 * (plain // 16 + 1) + 32  # version, time, IV, padded ciphertext, HMAC
        return len(COOKIE) + 1 + 4 * -(-fernet // 3) <= MAX_COOKIE


def session_key(path: Path) -> bytes:
    """The node's session key, created once with mode 0600 from its first byte; the first writer wins."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, Fernet.generate_key())
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic: fails if another process created it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


class SessionCodec:
    """Turns a session into a cookie value and back; an unreadable or stale cookie is a new session."""

    def __init__(self, key: bytes, idle_timeout_s: float) -> None:
        self.fernet = Fernet(key)
        self.idle_timeout_s = idle_timeout_s

    def load(self, value: str | None, now: float) -> WebSession:
        if not value:
            return WebSession()
        try:
            # The cookie is re-encrypted at least every REFRESH_S while in use: older ones are dead.
            data = json.loads(self.fernet.decrypt(value.encode(), ttl=int(self.idle_timeout_s + REFRESH_S)))
            session = WebSession(**data)
        except (InvalidToken, ValueError, TypeError):
            return WebSession(changed=True)
        if session.signed_in and now - session.last_seen > self.idle_timeout_s:
            session.sign_out()
            session.expired = True
        return session

    def dump(self, session: WebSession) -> str:
        return self.fernet.encrypt(json.dumps(session.stored()).encode()).decode()


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None, path: str = "/") -> bytes:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/ unless narrower, Secure off loopback."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def session_of(conn: HTTPConnection) -> WebSession:
    """The request's session, as the middleware left it."""
    return conn.scope["lotse.session"]  # type: ignore[no-any-return]


class SessionMiddleware:
    """Reads the session cookie before the page and writes it back when it changed or ages."""

    def __init__(self, app: ASGIApp, config: WebConfig) -> None:
        self.app = app
        self.codec = SessionCodec(session_key(config.session_key_file), config.idle_timeout_s)
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = read_cookies(scope)
        now = clock()
        session = self.codec.load(cookies.get(COOKIE), now)
        scope["lotse.session"] = session
        scope["lotse.lang"] = cookies.get(LANG_COOKIE)
        secure = self.config.secure_cookies or scope.get("scheme") == "https"
        polled = any(name == POLL_HEADER for name, _ in scope.get("headers", []))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A page refreshing itself is not the user at work: it must not hold the session open.
                if session.signed_in and now - session.last_seen > REFRESH_S and not polled:
                    session.last_seen, session.changed = now, True
                if session.changed:
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie_header(COOKIE, self.codec.dump(session), secure=secure)))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def read_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies by name, parsed as browsers send them."""
    header = next((value for name, value in scope.get("headers", []) if name == b"cookie"), b"")
    return cookie_parser(header.decode("latin-1"))
