"""The federation link as a node runs it: the relay on municipal nodes, ingest and registry at the state."""

from __future__ import annotations

from pathlib import Path

from shared.bus.consumer import consumer_name
from shared.bus.metrics import OUTBOX_BACKLOG
from shared.service import Background, Level, ServiceContext, ServiceSpec

from . import api
from .ingest import StateIngest
from .models import FEDERATION_TABLES
from .relay import FederationRelay, state_client

MIGRATIONS = Path(__file__).parent / "migrations"


def _outbox_backlog() -> dict[str, int]:
    total = sum(int(s.value) for m in OUTBOX_BACKLOG.collect() for s in m.samples)
    return {"outbox_backlog": total}


def relay_tasks(ctx: ServiceContext) -> list[Background]:
    """A municipal node with a state link relays up and down; without one it runs nothing."""
    s = ctx.settings
    if not s.state_redis_url:
        return []
    assert ctx.redis is not None
    relay = FederationRelay(s, ctx.redis, state_client(s.state_redis_url), health=_outbox_backlog)
    return relay.tasks()


def ingest_tasks(ctx: ServiceContext) -> list[Background]:
    s = ctx.settings
    assert ctx.redis is not None
    ingest = StateIngest(ctx.redis, ctx.database, consumer_name(s.node_id), s.node_id,
                         batch=s.batch_size, silence_s=s.node_silence_s)
    if s.ingest_apart:  # reading and verifying run in a child process (shared/runtime/ingest_process.py)
        return [ingest.watch_silence]
    return [ingest.run, ingest.reclaim, ingest.watch_silence]


spec = ServiceSpec(
    name="federation",
    municipal=Level(tables=[], background=relay_tasks, migrations=MIGRATIONS / "municipal"),
    state=Level(tables=FEDERATION_TABLES, router=api.router, background=ingest_tasks,
                migrations=MIGRATIONS / "state"),
)
