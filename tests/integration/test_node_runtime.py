"""The node runtime with a test service: health endpoints, metrics, clean stop without stranding."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from redis.asyncio import Redis
from sqlmodel import Session

from shared.auth import issue_dev_token
from shared.bus import Subscription, emit
from shared.http import context_of, session_dependency
from shared.runtime.app import build_app
from shared.runtime.embedded import EmbeddedServer
from shared.runtime.node import Node
from shared.service import Level, ServiceContext, ServiceSpec
from tests.integration.processes import processes_of
from tests.nodes import node_settings
from tests.support import STREAM, Effect, consultation, effects, make_handler

GROUP = "probe"
router = APIRouter(prefix="/api/cases/v1")


@router.post("/probe/{n}")
def probe(n: int, session: Annotated[Session, session_dependency("cases")],
          ctx: Annotated[ServiceContext, Depends(context_of("cases"))]) -> dict[str, int]:
    """Emit n events in one unit of work."""
    for i in range(n):
        emit(session, consultation(), stream=STREAM, tenant="08111000", node=ctx.node, aggregate_id=f"case-{i}")
    return {"emitted": n}


def probe_spec(delay: float) -> ServiceSpec:
    """A minimal service: POST /api/cases/v1/probe emits; its consumer counts effects slowly."""
    return ServiceSpec(
        name="cases",
        municipal=Level(
            tables=[Effect.__table__], router=router,  # type: ignore[attr-defined]
            subscriptions=lambda ctx: [Subscription(STREAM, GROUP, {
                "ConsultationRecorded": make_handler(delay=delay)}, db=ctx.db)]),
        stream=STREAM)


def test_node_serves_health_and_stops_without_stranding(valkey: EmbeddedServer,
                                                        tmp_path: Path) -> None:
    settings = node_settings(tmp_path, valkey.url, services=["cases"], batch_size=25)
    node = Node(settings, specs={"cases": probe_spec(delay=0.004)})
    with TestClient(build_app(node)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"redis": True, "bus": True, "db:cases": True}
        # every /api/ route is behind authentication, this test's probe too
        token = issue_dev_token(settings.data_dir, node_id=settings.node_id, node_tenants=settings.tenants,
                                sub="probe", roles=["manager"], tenants=[settings.tenants[0]])
        answer = client.post("/api/cases/v1/probe/400", headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"emitted": 400}
        db = node.contexts["cases"].database
        while len(effects(db)) < 60:
            pass
    # stopped mid-stream: whatever this process fetched was finished and acknowledged
    done = len(effects(db))
    assert max(effects(db).values()) == 1

    async def pending() -> dict:
        redis = Redis.from_url(valkey.url)
        try:
            return await redis.xpending(STREAM, GROUP)
        finally:
            await redis.aclose()

    assert asyncio.run(pending())["pending"] == 0
    assert done < 400
    # a restarted node picks up the rest; nothing twice
    node = Node(settings, specs={"cases": probe_spec(delay=0.0)})
    with TestClient(build_app(node)) as client:
        deadline = 200
        while len(effects(db)) < 400 and deadline:
            asyncio.run(asyncio.sleep(0.05))
            deadline -= 1
        assert client.get("/healthz").status_code == 200
        assert client.get("/nowhere").status_code == 404
        metrics = client.get("/metrics").text
        assert "lotse_events_consumed_total" in metrics and "lotse_outbox_backlog" in metrics
        # request latency by route template and status
        assert 'lotse_http_request_seconds_count{method="GET",route="/healthz",status="200"}' in metrics
        assert 'lotse_http_request_seconds_count{method="GET",route="unmatched",status="404"}' in metrics
    assert len(effects(db)) == 400 and max(effects(db).values()) == 1


def test_readyz_is_503_when_redis_is_gone(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "r").start()
    node = Node(node_settings(tmp_path, server.url, services=["cases"]),
                specs={"cases": probe_spec(delay=0)})
    try:
        with TestClient(build_app(node)) as client:
            server.stop()
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] is False
            assert client.get("/healthz").status_code == 200
    finally:
        server.stop()


def failing_spec() -> ServiceSpec:
    """A service whose consumers cannot be set up: the node fails after its embedded server started."""

    def subscriptions(ctx: ServiceContext) -> list[Subscription]:
        raise RuntimeError("no consumers today")

    return ServiceSpec(name="cases", municipal=Level(tables=[Effect.__table__],  # type: ignore[attr-defined]
                                                     subscriptions=subscriptions))


def test_a_node_that_fails_to_start_stops_what_it_started(tmp_path: Path) -> None:
    settings = node_settings(tmp_path, None, services=["cases"])  # type: ignore[arg-type]
    node = Node(settings, specs={"cases": failing_spec()})
    with pytest.raises(RuntimeError, match="no consumers today"), TestClient(build_app(node)):
        pass
    assert node.embedded is not None and node.embedded.proc is None  # it had started, and was stopped
    assert isinstance(node.start_error, RuntimeError)
    assert processes_of(tmp_path) == []
