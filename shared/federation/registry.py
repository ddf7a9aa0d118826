"""The state's node registry (register, rotate a key, remove, report) and each node's Redis ACL user."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlmodel import Session

from shared.errors import Conflict, InvalidInput, NotFound
from shared.settings import AGS, NODE_ID_PATTERN

from .keys import DOWN_ALL, down_stream, inbound_stream
from .models import NodeStatus, RegisteredNode, aware

NODE_ID = re.compile(NODE_ID_PATTERN)


def acl_user(node_id: str) -> str:
    return f"node-{node_id}"


def acl_rules(node_id: str, password: str) -> list[str]:
    """The node may append to its own inbound stream and read its own and the broadcast down streams."""
    return [
        "on", f">{password}", "resetkeys", "resetchannels", "-@all",
        "+ping", "+hello", "+auth", "+client|setname", "+select",  # redis-py tolerates a refused SETINFO
        "+xadd", "+xread",
        f"~{inbound_stream(node_id)}",
        f"%R~{down_stream(node_id)}", f"%R~{DOWN_ALL}",
    ]


def acl_file_line(node_id: str, password: str) -> str:
    """One line for a Redis `aclfile` (deploy/redis/users.acl)."""
    return f"user {acl_user(node_id)} " + " ".join(acl_rules(node_id, password))


def link_url(state_redis_url: str, node_id: str, password: str) -> str:
    """The state Redis URL with this node's ACL credentials, for LOTSE_STATE_REDIS_URL."""
    parts = urlsplit(state_redis_url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{quote(acl_user(node_id))}:{quote(password)}@{host}{port}{parts.path or ''}"


def check_node_id(node_id: str) -> str:
    if not NODE_ID.match(node_id):
        raise InvalidInput("node_id", f"{node_id!r} is not a node id (lowercase letters, digits and '-', "
                                      "2-63 characters, starting with a letter or digit)")
    return node_id


def check_public_key(public_key: str) -> str:
    try:
        if len(base64.b64decode(public_key, validate=True)) == 32:
            return public_key
    except (binascii.Error, ValueError):
        pass
    raise InvalidInput("public_key", "not a base64 Ed25519 public key (32 bytes)")


def register(session: Session, *, node_id: str, tenants: list[str], public_key: str) -> RegisteredNode:
    """Register a node; registering it again with the same key updates its tenants."""
    check_node_id(node_id)
    check_public_key(public_key)
    bad = [t for t in tenants if not AGS.match(t)]
    if bad or not tenants:
        raise InvalidInput("tenant", f"not an 8-digit AGS code: {', '.join(bad) or '(none)'}")
    for other in session.exec(select(RegisteredNode)).scalars():  # type: ignore[call-overload]
        held = sorted(set(tenants) & set(other.tenants))
        if other.node_id != node_id and held:
            raise Conflict(f"tenant {', '.join(held)} is already served by node {other.node_id}")
    node = session.get(RegisteredNode, node_id)
    if node is None:
        node = RegisteredNode(node_id=node_id, tenants=list(tenants), public_key=public_key,
                              acl_user=acl_user(node_id))
    elif public_key != node.public_key:
        raise Conflict(f"node {node_id} is registered with another key: rotate it with "
                       "`lotse federation rotate-key`, or remove the node first")
    node.tenants = list(tenants)
    session.add(node)
    return node


def rotate_key(session: Session, *, node_id: str, public_key: str, overlap: timedelta,
               now: datetime) -> RegisteredNode:
    """The new key counts from now on; the old one still verifies until the overlap ends."""
    check_public_key(public_key)
    node = get_node(session, node_id=node_id)
    if public_key == node.public_key:
        raise Conflict(f"node {node_id} already signs with this key")
    node.previous_public_key, node.previous_key_until = node.public_key, now + overlap
    node.public_key = public_key
    session.add(node)
    return node


def get_node(session: Session, *, node_id: str) -> RegisteredNode:
    node = session.get(RegisteredNode, node_id)
    if node is None:
        raise NotFound(f"node {node_id} is not registered")
    return node


def remove(session: Session, *, node_id: str) -> RegisteredNode:
    """Forget the node: from now on its envelopes are rejected as from an unregistered node."""
    node = get_node(session, node_id=node_id)
    session.delete(node)
    session.flush()
    return node


def list_nodes(session: Session) -> list[RegisteredNode]:
    return list(session.exec(select(RegisteredNode).order_by(RegisteredNode.node_id)).scalars())  # type: ignore


def node_statuses(session: Session, *, now: datetime) -> list[NodeStatus]:
    """Every registered node with its last heartbeat and health."""
    out = []
    for n in list_nodes(session):
        last = n.last_heartbeat_at
        until = n.previous_key_until if n.previous_public_key else None
        out.append(NodeStatus(
            node_id=n.node_id, tenants=n.tenants, registered_at=n.registered_at,
            last_heartbeat_at=last, last_seen_age_s=(now - aware(last)).total_seconds() if last else None,
            version=n.version, relay_lag=n.relay_lag, outbox_backlog=n.outbox_backlog,
            dead_letters=n.dead_letters, accepted=n.accepted, rejected=n.rejected,
            silent=n.silent_alerted, previous_key_until=until if until and aware(until) > now else None))
    return out


async def apply_acl(redis: Redis, node_id: str, password: str | None = None) -> str:
    """Create or reset the node's ACL user on the state Redis; returns the password."""
    password = password or secrets.token_urlsafe(24)
    await redis.execute_command("ACL", "SETUSER", acl_user(node_id), "reset", *acl_rules(node_id, password))
    await _save_acl(redis)
    return password


async def remove_acl(redis: Redis, node_id: str) -> None:
    """Delete the node's ACL user on the state Redis (its open connections are closed by Redis)."""
    await redis.execute_command("ACL", "DELUSER", acl_user(node_id))
    await _save_acl(redis)


async def _save_acl(redis: Redis) -> None:
    try:
        await redis.execute_command("ACL", "SAVE")  # persist where the server has an aclfile
    except ResponseError as exc:
        if "ACL file" not in str(exc):
            raise
