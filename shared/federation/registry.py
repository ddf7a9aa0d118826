"""Registering a municipal node at the state: registry row plus a Redis ACL user for its link."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlsplit

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.db import Database

from .keys import DOWN_ALL, down_stream, inbound_stream
from .models import RegisteredNode


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


def register(db: Database, node_id: str, tenants: list[str], public_key: str) -> RegisteredNode:
    """Insert or update the node's registry row (its tenants and public key)."""
    with db.session() as s:
        node = s.get(RegisteredNode, node_id) or RegisteredNode(
            node_id=node_id, tenants=tenants, public_key=public_key, acl_user=acl_user(node_id))
        node.tenants, node.public_key = list(tenants), public_key
        s.add(node)
        s.commit()
        return node


async def apply_acl(redis: Redis, node_id: str, password: str | None = None) -> str:
    """Create or reset the node's ACL user on the state Redis; returns the password."""
    password = password or secrets.token_urlsafe(24)
    await redis.execute_command("ACL", "SETUSER", acl_user(node_id), "reset", *acl_rules(node_id, password))
    try:
        await redis.execute_command("ACL", "SAVE")  # persist where the server has an aclfile
    except ResponseError as exc:
        if "ACL file" not in str(exc):
            raise
    return password
