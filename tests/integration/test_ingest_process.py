"""The state's federation ingest in a child process (LOTSE_INGEST_PROCESS): started with the node, restarted
when it dies, stopped with the node; what it accepts reaches the read model in the node process."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import uvloop
from prometheus_client import REGISTRY
from redis import Redis
from sqlmodel import func, select

from services.cases.state.models import StateConsultation
from shared.events import envelope_for, new_event_id
from shared.events.cases import ConsultationRecorded
from shared.events.codes import Mode, Topic
from shared.federation import crypto
from shared.federation.keys import STATE_TENANT, inbound_stream
from shared.federation.models import RegisteredNode
from shared.federation.relay import project
from shared.runtime.embedded import EmbeddedServer
from shared.runtime.ingest_process import IngestProcess
from shared.settings import Settings
from tests.nodes import STUTTGART, NodeHandle, eventually, running_node

NODE = "node-a"
ACCEPTED_TOTAL, REJECTED = "lotse_federation_accepted_total", "lotse_federation_rejected_total"


@contextmanager
def state_node(tmp: Path, redis_url: str) -> Iterator[NodeHandle]:
    """A state node with the ingest apart, and node-a registered with its signing key."""
    with running_node(tmp / "state", redis_url, services=["cases", "federation"], level="state", node_id="state",
                      tenants=[STATE_TENANT], ingest_process="on") as handle:
        key = crypto.node_signing_key(tmp / "sim")
        with handle.node.contexts["federation"].database.session() as s:
            s.add(RegisteredNode(node_id=NODE, tenants=[STUTTGART], public_key=crypto.public_key_b64(key),
                                 acl_user=f"node-{NODE}"))
            s.commit()
        handle.key = key  # type: ignore[attr-defined]
        yield handle


def send(redis: Redis, state: NodeHandle, n: int) -> None:
    """n consultations as node-a's relay sends them: projected, pseudonymised, signed."""
    for i in range(n):
        payload = ConsultationRecorded(case_id=f"case-{i}", consultation_id=new_event_id(), manager="mia",
                                       held_on=date(2026, 11, 3), duration_minutes=45, mode=Mode.office,
                                       topics=[Topic.language])
        env = project(envelope_for(payload, tenant=STUTTGART, node=NODE, aggregate_id=f"case-{i}"),
                      lambda v: f"{abs(hash(v)):064d}"[:64], NODE)
        body = env.to_json()
        redis.xadd(inbound_stream(NODE), {"event": body, "sig": crypto.sign(state.key, body.encode())})  # type: ignore[attr-defined]


def kept(state: NodeHandle) -> int:
    with state.node.contexts["cases"].database.session() as s:
        return int(s.exec(select(func.count()).select_from(StateConsultation)).one())


def accepted(state: NodeHandle) -> float:
    """node-a's accepted envelopes on the node's /metrics (the child reports them to the node)."""
    for line in state.client.get("/metrics").text.splitlines():
        if line.startswith(f'lotse_federation_accepted_total{{node="{NODE}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_the_ingest_runs_apart_survives_its_death_and_stops_with_the_node(
    valkey: EmbeddedServer, redis: Redis, tmp_path: Path
) -> None:
    with state_node(tmp_path, valkey.url) as state:
        ingest = state.node.ingest
        assert ingest is not None and state.node.settings.ingest_apart
        assert not any(r.service == "federation" for r in state.node.relays)  # the child relays that outbox
        eventually(lambda: ingest.alive())
        first = ingest.proc
        assert first is not None and first.pid != os.getpid()
        before = accepted(state)  # counters are per test process: other tests may have counted node-a
        send(redis, state, 5)
        eventually(lambda: kept(state) == 5, timeout=30)
        eventually(lambda: accepted(state) - before == 5)
        ready = state.client.get("/readyz").json()
        assert ready["checks"]["ingest"] is True

        os.kill(first.pid, signal.SIGKILL)  # the node starts it again; entries meanwhile wait in the stream
        eventually(lambda: ingest.restarts == 1 and ingest.alive(), timeout=30)
        second = ingest.proc
        assert second is not None and second.pid != first.pid
        send(redis, state, 3)
        eventually(lambda: kept(state) == 8, timeout=30)
        eventually(lambda: accepted(state) - before == 8)  # the new child's counts add to the old one's
        with state.node.contexts["federation"].database.session() as s:
            node = s.get(RegisteredNode, NODE)
            assert node is not None and node.accepted == 8 and node.rejected == 0
    assert second.returncode == 0  # stopped with the node, in order (SIGTERM, not killed)
    with pytest.raises(ProcessLookupError):
        os.kill(second.pid, 0)


def test_the_ingest_stays_in_the_node_where_it_would_gain_nothing(tmp_path: Path) -> None:
    base = {"node_id": "state", "level": "state", "tenants": ["08000000"], "data_dir": tmp_path}
    assert Settings(**base, services=["cases", "federation"], ingest_process="on").ingest_apart
    assert not Settings(**base, services=["cases", "federation"], ingest_process="off").ingest_apart
    assert not Settings(**base, services=["federation"], ingest_process="on").ingest_apart  # split mode already
    assert not Settings(**{**base, "level": "municipal", "tenants": [STUTTGART]}, services=["cases", "federation"],
                        ingest_process="on").ingest_apart
    auto = Settings(**base, services=["cases", "federation"]).ingest_apart
    assert auto == (len(os.sched_getaffinity(0)) > 1)


def test_a_report_adds_to_the_nodes_counters_and_nothing_else() -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    accepted, rejected = value(ACCEPTED_TOTAL, node="sim-1"), value(REJECTED, node="sim-1", reason="replay")
    IngestProcess._add({"accepted|sim-1": 3, "rejected|sim-1|replay": 2})
    IngestProcess._add({"accepted|sim-1|extra": 5, "rejected|sim-1": 5, "other|sim-1": 5, "accepted|sim-1": -4})
    assert value(ACCEPTED_TOTAL, node="sim-1") - accepted == 3
    assert value(REJECTED, node="sim-1", reason="replay") - rejected == 2


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_child_starts_before_its_settings_come_misses_ctrl_c_and_ends_quietly_without_them(
        tmp_path: Path, loop: str) -> None:
    """The node starts the child's interpreter first (its imports overlap the node's own start) and hands it its
    settings once the bus is up; a Ctrl-C meanwhile does not reach it, and a node that stops before that ends it."""
    settings = Settings(node_id="state", level="state", tenants=["08000000"], data_dir=tmp_path,
                        services=["cases", "federation"], ingest_process="on")

    async def scenario() -> None:
        early = IngestProcess(settings, None)
        await early.prestart()
        first = early.proc
        assert first is not None and first.stdin is not None
        await early.prestart()  # once only
        assert early.proc is first
        # A Ctrl-C in the node's terminal goes to the terminal's foreground process group: the node's, not the child's.
        assert os.getpgid(first.pid) == first.pid != os.getpgrp() and os.getsid(first.pid) == first.pid
        assert early.alive()
        first.stdin.close()  # the node stopped before it was up: no settings
        assert await asyncio.wait_for(first.wait(), 30) == 0

        stopped = IngestProcess(settings, None)
        await stopped.prestart()
        await stopped.stop(timeout=10)  # a node whose start failed stops what it started
        assert stopped.proc is not None and stopped.proc.returncode is not None and not stopped.alive()

    if loop == "uvloop":  # the node's loop (uvicorn's default where uvloop is installed)
        uvloop.run(scenario())
    else:
        asyncio.run(scenario())
