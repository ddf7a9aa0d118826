"""PostgreSQL drops every connection of the node (as in a failover): writes and consumers go on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared.runtime.embedded import EmbeddedServer
from tests.conftest import POSTGRES_URL
from tests.integration.reliability import EFFECTS, effects_per_case, install_counting_service, open_cases
from tests.nodes import eventually, running_node


def test_connections_dropped_by_the_server_are_replaced(valkey: EmbeddedServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    install_counting_service(monkeypatch)
    base, app = f"lotse_test_{uuid.uuid4().hex[:10]}", f"lotse-failover-{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + "connect_timeout=3")
    try:
        with admin.begin() as conn:
            for service in ("cases", EFFECTS, "keys"):  # keys: the per-case data keys (LOTSE_KEYSTORE_URL)
                conn.execute(text(f"CREATE SCHEMA {base}_{service}"))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({str(exc).splitlines()[0][:120]})")
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}application_name={app}" \
          f"&options=-csearch_path%3D{base}_{{service}}"
    try:
        with running_node(tmp_path, valkey.url, services=["cases", EFFECTS], database_url=url,
                          db_auto_upgrade=True) as node:
            before = open_cases(node, 5)
            eventually(lambda: len(effects_per_case(node)) == 5)
            with admin.begin() as conn:  # every connection of the node ends, as when a primary is replaced
                ended = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE application_name = :app"), {"app": app}).scalar()
            assert ended and ended > 0
            after = open_cases(node, 5)  # pooled connections are checked before use: no 5xx
            eventually(lambda: len(effects_per_case(node)) == 10, timeout=30)
            assert set(effects_per_case(node)) == {*before, *after}
            assert set(effects_per_case(node).values()) == {1}
            assert node.client.get("/readyz").status_code == 200
    finally:
        with admin.begin() as conn:
            for service in ("cases", EFFECTS, "keys"):  # keys: the per-case data keys (LOTSE_KEYSTORE_URL)
                conn.execute(text(f"DROP SCHEMA IF EXISTS {base}_{service} CASCADE"))
        admin.dispose()
