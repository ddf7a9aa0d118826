"""The federation link as a node component: the relay on municipal nodes, ingest + registry at the state."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import select

from shared.auth import PrincipalDep, require_roles
from shared.bus.consumer import consumer_name
from shared.bus.metrics import OUTBOX_BACKLOG
from shared.events import utcnow
from shared.service import ServiceContext, ServiceSpec

from .ingest import StateIngest
from .models import FEDERATION_TABLES, RegisteredNode
from .relay import FederationRelay


class NodeStatus(BaseModel):
    node_id: str
    tenants: list[str]
    registered_at: datetime
    last_heartbeat_at: datetime | None
    last_seen_age_s: float | None
    version: str | None
    relay_lag: int | None
    outbox_backlog: int | None
    dead_letters: int | None
    accepted: int
    rejected: int
    silent: bool


def _outbox_backlog() -> dict[str, int]:
    total = sum(int(s.value) for m in OUTBOX_BACKLOG.collect() for s in m.samples)
    return {"outbox_backlog": total}


def router(ctx: ServiceContext) -> APIRouter:
    r = APIRouter(prefix="/api/federation/v1", tags=["federation"])
    if ctx.settings.level != "state":
        return r

    @r.get("/nodes", response_model=list[NodeStatus])
    def nodes(principal: PrincipalDep) -> list[NodeStatus]:
        """Every registered node with its last heartbeat and health."""
        require_roles(principal, "state_operator", "funding_officer")
        now = utcnow()
        with ctx.database.session() as s:
            rows = list(s.exec(select(RegisteredNode).order_by(RegisteredNode.node_id)).scalars())  # type: ignore
        out = []
        for n in rows:
            last = n.last_heartbeat_at
            age = (now - last.replace(tzinfo=now.tzinfo)).total_seconds() if last else None
            out.append(NodeStatus(
                node_id=n.node_id, tenants=n.tenants, registered_at=n.registered_at,
                last_heartbeat_at=last, last_seen_age_s=age, version=n.version,
                relay_lag=n.relay_lag, outbox_backlog=n.outbox_backlog, dead_letters=n.dead_letters,
                accepted=n.accepted, rejected=n.rejected, silent=n.silent_alerted))
        return out

    return r


def background(ctx: ServiceContext) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    s = ctx.settings
    assert ctx.redis is not None
    if s.level == "state":
        ingest = StateIngest(ctx.redis, ctx.database, consumer_name(s.node_id), s.node_id,
                             batch=s.batch_size, silence_s=s.node_silence_s)
        return [ingest.run, ingest.reclaim, ingest.watch_silence]
    if not s.state_redis_url:
        return []
    relay = FederationRelay(s, ctx.redis, Redis.from_url(s.state_redis_url), health=_outbox_backlog)
    return relay.tasks()


spec = ServiceSpec(name="federation", tables=FEDERATION_TABLES, router=router, background=background)
