"""Helpers of the reliability tests: a server that forgets, acknowledged writes and their effects."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Field, Session, SQLModel

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseOpened
from shared.runtime.embedded import EmbeddedServer
from shared.service import Level, ServiceContext, ServiceSpec, discover
from tests.nodes import NodeHandle, running_node

EFFECTS = "notifications"  # the slot the counting consumer takes (a node runs only services it knows by name)
CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "accommodation_since": "2023-02-01"}


def restart_empty(server: EmbeddedServer) -> None:
    """The server dies and comes back on its port without any of its data (a lost volume, a new host)."""
    server.stop(kill=True)
    shutil.rmtree(server.data_dir / "appendonlydir", ignore_errors=True)
    for snapshot in server.data_dir.glob("*.rdb"):
        snapshot.unlink()
    server.start()  # its password and ACL file are configuration, not data: they stay


def aof_files(server: EmbeddedServer) -> list[Path]:
    """The append-only files the server writes to (the incremental part of a multi-part AOF)."""
    return sorted(server.data_dir.glob("appendonlydir/*.incr.aof"))


def open_cases(node: NodeHandle, n: int) -> list[str]:
    """Open n cases over HTTP; every 201 is an acknowledged write. Returns the case ids."""
    headers = node.headers("m1", "manager")
    ids = []
    for _ in range(n):
        answer = node.client.post("/api/cases/v1/cases", json=CASE, headers=headers)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


class CaseEffect(SQLModel, table=True):
    """One row per CaseOpened a consumer applied: a doubled effect shows as two rows for one case."""

    __tablename__ = "test_case_effect"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True)


def counting_service(slot: str = EFFECTS) -> ServiceSpec:
    """A consumer of the cases stream counting effects, installed in a service's slot (settings name it)."""

    def subscriptions(ctx: ServiceContext) -> list[Subscription]:
        def on_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
            session.add(CaseEffect(case_id=p.case_id))

        return [Subscription(STREAMS["cases"], "case-effects", {CaseOpened.event_type: on_opened})]

    return ServiceSpec(name=slot, municipal=Level(tables=[CaseEffect.__table__],  # type: ignore[attr-defined]
                                                  subscriptions=subscriptions))


def install_counting_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes started from now on run the real cases service and the counting consumer only."""
    cases = discover()["cases"]
    monkeypatch.setattr("shared.runtime.node.discover", lambda: {"cases": cases, EFFECTS: counting_service()})


def effects_per_case(node: NodeHandle) -> Counter[str]:
    """How many times each case's CaseOpened took effect."""
    with node.node.contexts[EFFECTS].database.engine.connect() as conn:
        return Counter(row[0] for row in conn.execute(text("SELECT case_id FROM test_case_effect")))


@contextmanager
def federated(tmp: Path, state_services: list[str], node_services: list[str],
              **node_overrides: Any) -> Iterator[tuple[NodeHandle, NodeHandle, EmbeddedServer, EmbeddedServer]]:
    """A state node and municipal node-a, each on its own server, node-a registered and linked."""
    from tests.e2e.test_federation_link import register_node  # the e2e suite's registration steps

    state_srv = EmbeddedServer(tmp / "state-redis").start()
    a_srv = EmbeddedServer(tmp / "a-redis").start()
    try:
        with running_node(tmp, state_srv.url, node_id="state", level="state", tenants=["08000000"],
                          services=state_services, data_dir=tmp / "state") as state:
            url_a = register_node(state, state_srv.url, "node-a", ["08111000"], tmp / "node-a")
            with running_node(tmp, a_srv.url, node_id="node-a", tenants=["08111000"], services=node_services,
                              data_dir=tmp / "node-a", state_redis_url=url_a, **node_overrides) as node_a:
                yield state, node_a, state_srv, a_srv
    finally:
        state_srv.stop()
        a_srv.stop()
