"""What the notifications tests of both levels share: an SMTP collector, inbox calls, database reads."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import jwt
from aiosmtpd.controller import Controller
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from shared.auth import DEV_ISSUER, load_or_create_dev_key
from tests.nodes import NodeHandle

API = "/api/notifications/v1"


class Collector:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(collector: Collector, port: int) -> Iterator[Controller]:
    """A real SMTP server on localhost, stopped on leaving."""
    smtp = Controller(collector, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


def settled(redis: Redis, stream: str) -> bool:
    """The notifications group has read and acknowledged everything on the stream."""
    group = next(g for g in redis.xinfo_groups(stream) if g["name"] == b"notifications")
    return group["lag"] == 0 and group["pending"] == 0


def inbox(node: NodeHandle, as_: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = node.client.get(f"{API}/inbox", headers=as_, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def rows(node: NodeHandle, model: Any, *where: Any) -> list[Any]:
    with node.node.contexts["notifications"].database.session() as s:
        return list(s.exec(select(model).where(*where)).all())


def count(node: NodeHandle, model: Any) -> int:
    with node.node.contexts["notifications"].database.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def token(node: NodeHandle, sub: str, *roles: str, tenants: list[str]) -> dict[str, str]:
    """A dev token naming any tenants (the CLI only issues the node's own)."""
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": node.settings.node_id, "sub": sub, "roles": list(roles),
              "tenants": tenants, "iat": now, "exp": now + 60}
    signed = jwt.encode(claims, load_or_create_dev_key(node.settings.data_dir), algorithm="EdDSA")
    return {"Authorization": f"Bearer {signed}"}
