"""A unit of work whose PostgreSQL connection ends before its commit (a failover) is run again by the node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, func, select

from shared.auth import issue_dev_token
from shared.http import session_dependency
from shared.runtime.app import build_app
from shared.runtime.embedded import EmbeddedServer
from shared.runtime.node import Node
from shared.service import Level, ServiceSpec
from tests.nodes import node_settings
from tests.support import Effect

router = APIRouter(prefix="/api/cases/v1")
ENDED: list[str] = []  # what the route did to its own connection, attempt by attempt


@router.post("/failover-probe/{mode}")
def probe(mode: str, session: Annotated[Session, session_dependency("cases")]) -> dict[str, int]:
    """Writes one row; `once` ends its own connection the first time (as a failover would), `always` each time."""
    session.add(Effect(event_id=f"probe-{mode}", minutes=1))
    session.flush()
    if mode == "always" or mode == "once" and not ENDED:
        ENDED.append(mode)
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))  # the server ends it
    return {"written": 1}


@pytest.fixture
def client(valkey: EmbeddedServer, tmp_path: Path, postgres_url: str) -> Iterator[tuple[TestClient, Node, str]]:
    ENDED.clear()
    settings = node_settings(tmp_path, valkey.url, services=["cases"], database_url=postgres_url)
    spec = ServiceSpec(name="cases", municipal=Level(tables=[Effect.__table__], router=router))  # type: ignore[attr-defined]
    node = Node(settings, specs={"cases": spec})
    token = issue_dev_token(settings.data_dir, node_id=settings.node_id, node_tenants=settings.tenants,
                            sub="probe", roles=["manager"], tenants=[settings.tenants[0]])
    with TestClient(build_app(node)) as test_client:
        yield test_client, node, token


def rows(node: Node, event_id: str) -> int:
    with node.contexts["cases"].database.session() as session:
        return int(session.exec(select(func.count()).where(Effect.event_id == event_id)).one())


def test_a_connection_ended_before_the_commit_is_retried_once_and_writes_once(client) -> None:
    test_client, node, token = client
    answer = test_client.post("/api/cases/v1/failover-probe/once", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text  # the client never saw the dropped connection
    assert ENDED == ["once"] and rows(node, "probe-once") == 1
    assert test_client.get("/readyz").status_code == 200


def test_a_database_still_gone_after_the_retry_answers_503_and_writes_nothing(client) -> None:
    test_client, node, token = client
    answer = test_client.post("/api/cases/v1/failover-probe/always", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert ENDED == ["always", "always"] and rows(node, "probe-always") == 0  # tried twice, nothing written
