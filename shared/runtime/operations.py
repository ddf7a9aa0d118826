"""The node's operations API for `node_admin`: services, streams and groups, outboxes, the link, dead letters.

Nothing here reads a case file, a plan or an event's payload: the answers carry names of services,
streams and groups, counts, ids and event types only. Dead-letter errors are stored as the failing
code wrote them; the values they may quote (pydantic's `input_value=`, SQLAlchemy's
`[parameters: ...]`) are withheld before they are shown.
"""

from __future__ import annotations

import asyncio
import platform
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from prometheus_client import REGISTRY
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlmodel import func, select

from shared import VERSION
from shared.auth import Principal
from shared.bus.deadletter import replay
from shared.errors import NotFound
from shared.events import DEAD_LETTERS
from shared.federation.models import RegisteredNode
from shared.federation.relay import UP_GROUP, UP_STREAMS
from shared.http import requires

if TYPE_CHECKING:
    from shared.bus.outbox import OutboxRelay
    from shared.runtime.node import Node

router = APIRouter(prefix="/api/node/v1", tags=["node operations"])
Operator = Annotated[Principal, requires("node_admin")]
DEAD_LETTER_ID = r"^\d{1,20}-\d{1,20}$"  # a stream entry id, as `lotse dlq list` shows it
# Set by the federation relay after each heartbeat it sent (Unix seconds); absent: never sent here.
HEARTBEAT_SENT = "lotse_federation_heartbeat_sent_timestamp_seconds"
LINK_UP = "lotse_federation_link_up"


class GroupHealth(BaseModel):
    """A consumer group of a stream, as XINFO GROUPS reports it."""

    name: str
    consumers: int
    pending: int = Field(description="delivered to a consumer, not yet acknowledged")
    lag: int | None = Field(description="entries not yet delivered to the group; null when Redis cannot tell")
    last_delivered_id: str


class StreamHealth(BaseModel):
    """One stream on the node's Redis with its consumer groups (none for dead letters and down streams)."""

    name: str
    length: int
    groups: list[GroupHealth]


class ServiceHealth(BaseModel):
    """A service running in this process, at this node's level."""

    name: str
    level: Literal["municipal", "state"]
    stream: str | None = Field(description="the stream it produces to")
    groups: list[str] = Field(description="the consumer groups it reads with in this process")
    outbox_backlog: int | None = Field(description="outbox rows not yet published; null if unreadable")


class FederationHealth(BaseModel):
    """The federation link. Municipal: the relay to the state; state: the registry of municipal nodes."""

    level: Literal["municipal", "state"]
    configured: bool = Field(description="municipal: a state link is set; state: the registry runs here")
    link_up: bool | None = Field(default=None, description="municipal: the state Redis answered the relay lately")
    last_heartbeat_sent_at: datetime | None = Field(default=None, description="municipal: the relay's last heartbeat")
    relay_lag: int | None = Field(default=None, description="municipal: up-scoped events not yet relayed")
    registered_nodes: int | None = Field(default=None, description="state: municipal nodes in the registry")
    silent_nodes: int | None = Field(default=None, description="state: registered nodes currently alerted as silent")


class Versions(BaseModel):
    """What runs this node."""

    lotse: str
    python: str
    redis_server: str | None = Field(description="the server's version; null if it did not answer")
    redis_server_name: str | None = Field(description="redis or valkey")


class NodeHealth(BaseModel):
    """GET /status: the node at a glance, without case contents."""

    node_id: str
    level: Literal["municipal", "state"]
    tenants: list[str]
    services: list[ServiceHealth]
    streams: list[StreamHealth]
    outbox_backlog: int = Field(description="sum over the services' outboxes")
    dead_letters: int
    federation: FederationHealth
    versions: Versions


class DeadLetterSummary(BaseModel):
    """A dead letter without its payload: where it failed, why, how often."""

    id: str
    stream: str
    group: str
    event_type: str | None
    event_id: str | None
    error: str
    deliveries: int
    failed_at: datetime | None


class DeadLetterPage(BaseModel):
    """A page of dead letters, oldest first; `next_cursor` is passed as `cursor` for the next page."""

    items: list[DeadLetterSummary]
    next_cursor: str | None
    total: int


class Replayed(BaseModel):
    """The dead letter put back on its stream as a new entry (groups that had it skip it by inbox)."""

    id: str
    replayed_as: str


def _node(request: Request) -> Node:
    return request.app.state.node  # type: ignore[no-any-return]


def _redis(request: Request) -> Redis:
    redis = _node(request).redis
    if redis is None:
        raise RuntimeError("the node's bus is not connected")
    return redis


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def redacted(error: str) -> str:
    """An error as an operator may see it: without the values a validation or SQL error quotes."""
    error = re.sub(r"input_value=.*?, input_type=", "input_value=(withheld), input_type=", error, flags=re.S)
    return "\n".join("[parameters withheld]" if line.startswith("[parameters:") else line
                     for line in error.splitlines())


async def _streams(redis: Redis) -> list[StreamHealth]:
    names = sorted({_text(k) async for k in redis.scan_iter(match="lotse:*", count=500, _type="stream")})
    out = []
    for name in names:
        try:
            groups = await redis.xinfo_groups(name)
            length = await redis.xlen(name)
        except ResponseError:  # trimmed away or deleted between SCAN and XINFO
            continue
        out.append(StreamHealth(name=name, length=length, groups=[GroupHealth(
            name=_text(g["name"]), consumers=g["consumers"], pending=g["pending"], lag=g.get("lag"),
            last_delivered_id=_text(g["last-delivered-id"])) for g in groups]))
    return out


async def _versions(redis: Redis) -> Versions:
    try:
        info = await redis.info("server")
    except RedisError:
        info = {}
    name = str(info.get("server_name") or "redis")
    version = info.get(f"{name}_version") or info.get("redis_version")
    return Versions(lotse=VERSION, python=platform.python_version(),
                    redis_server=str(version) if version else None, redis_server_name=name if info else None)


def _registry_counts(node: Node) -> tuple[int, int]:
    with node.contexts["federation"].database.session() as s:
        registered = s.exec(select(func.count()).select_from(RegisteredNode)).one()
        silent = s.exec(select(func.count()).select_from(RegisteredNode).where(
            RegisteredNode.silent_alerted == True)).one()  # noqa: E712 (SQL, not Python truth)
    return int(registered), int(silent)


async def _federation(node: Node, streams: list[StreamHealth]) -> FederationHealth:
    if node.settings.level == "state":
        if "federation" not in node.contexts:
            return FederationHealth(level="state", configured=False)
        registered, silent = await asyncio.to_thread(_registry_counts, node)
        return FederationHealth(level="state", configured=True, registered_nodes=registered, silent_nodes=silent)
    # As the relay counts it for its heartbeat: not yet delivered plus delivered, not acknowledged.
    up = [g for s in streams if s.name in UP_STREAMS for g in s.groups if g.name == UP_GROUP]
    relay_here = "federation" in node.specs and bool(node.settings.state_redis_url)
    sent = REGISTRY.get_sample_value(HEARTBEAT_SENT) if relay_here else None
    link = REGISTRY.get_sample_value(LINK_UP) if relay_here else None
    return FederationHealth(
        level="municipal", configured=bool(node.settings.state_redis_url),
        link_up=None if link is None else link == 1,
        last_heartbeat_sent_at=datetime.fromtimestamp(sent).astimezone() if sent else None,
        relay_lag=sum((g.lag or 0) + g.pending for g in up) if up else None)


async def _backlog(relay: OutboxRelay) -> int | None:
    try:
        return int(await asyncio.to_thread(relay.backlog))
    except Exception:  # a database that does not answer shows as unknown, not as a failed page
        return None


@router.get("/status", response_model=NodeHealth)
async def status(_: Operator, request: Request) -> NodeHealth:
    """The node's services, streams with their consumer groups, outbox backlogs, dead letters, link, versions."""
    node, redis = _node(request), _redis(request)
    streams = await _streams(redis)
    backlogs = {relay.service: await _backlog(relay) for relay in node.relays}
    services = [ServiceHealth(
        name=name, level=node.settings.level, stream=spec.stream, outbox_backlog=backlogs.get(name),
        groups=sorted({sub.group for sub in node.levels[name].subscriptions(node.contexts[name])}))
        for name, spec in sorted(node.specs.items())]
    return NodeHealth(
        node_id=node.settings.node_id, level=node.settings.level, tenants=node.settings.tenants,
        services=services, streams=streams, outbox_backlog=sum(b or 0 for b in backlogs.values()),
        dead_letters=await redis.xlen(DEAD_LETTERS), federation=await _federation(node, streams),
        versions=await _versions(redis))


def _summary(entry_id: Any, fields: dict[Any, Any]) -> DeadLetterSummary:
    f = {_text(k): _text(v) for k, v in fields.items() if _text(k) != "payload"}  # never the payload
    try:
        failed_at = datetime.fromisoformat(f["at"]) if f.get("at") else None
    except ValueError:
        failed_at = None
    return DeadLetterSummary(
        id=_text(entry_id), stream=f.get("stream", ""), group=f.get("group", ""),
        event_type=f.get("type") or None, event_id=f.get("event_id") or None,
        error=redacted(f.get("error", "")), deliveries=int(f.get("deliveries") or 0), failed_at=failed_at)


@router.get("/dead-letters", response_model=DeadLetterPage)
async def dead_letters(
    _: Operator, request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=41, pattern=DEAD_LETTER_ID)] = None,
) -> DeadLetterPage:
    """What `lotse dlq list` shows, a page at a time, oldest first; never an event's payload."""
    redis = _redis(request)
    try:
        entries = await redis.xrange(DEAD_LETTERS, min=f"({cursor}" if cursor else "-", count=limit + 1)
    except ResponseError:  # an id beyond what a stream id can hold: nothing follows it
        entries = []
    page = [_summary(entry_id, fields) for entry_id, fields in entries[:limit]]
    return DeadLetterPage(items=page, next_cursor=page[-1].id if len(entries) > limit else None,
                          total=await redis.xlen(DEAD_LETTERS))


@router.post("/dead-letters/{dead_letter_id}/replay", response_model=Replayed)
async def replay_dead_letter(
    _: Operator, request: Request,
    dead_letter_id: Annotated[str, Path(max_length=41, pattern=DEAD_LETTER_ID)],
) -> Replayed:
    """What `lotse dlq replay ID` does: the event goes back on its stream; 404 for an unknown id."""
    try:
        new_id = await replay(_redis(request), dead_letter_id)
    except (KeyError, ResponseError):
        raise NotFound("dead letter not found") from None
    return Replayed(id=dead_letter_id, replayed_as=new_id)
