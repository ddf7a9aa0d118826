"""Migrations on PostgreSQL and through the installed `lotse db` command; a node behind its code refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from shared.db import Database
from shared.migrations.errors import MigrationError
from shared.migrations.history import LEVELS, history_for
from shared.migrations.runner import Upgraded, differences, head_of, status, upgrade
from shared.settings import ALL_SERVICES
from tests.nodes import NodeHandle

LOTSE = str(Path(sys.executable).with_name("lotse"))
HISTORIES = [(s, lvl) for s in ALL_SERVICES for lvl in LEVELS]


def lotse(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    return subprocess.run([LOTSE, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", HISTORIES, ids="-".join)
def test_the_migrations_build_exactly_the_models_schema_on_postgres(case: tuple[str, str], postgres_url: str) -> None:
    history = history_for(*case)
    assert upgrade(history, postgres_url) == Upgraded(None, head_of(history))
    assert differences(history, postgres_url) == []  # autogenerate would write nothing
    engine = create_engine(postgres_url)
    try:
        assert set(inspect(engine).get_table_names()) == history.table_names | {history.version_table}
    finally:
        engine.dispose()


def test_lotse_db_upgrade_on_an_empty_postgres_database(postgres_url: str, tmp_path: Path) -> None:
    # no {service} in the URL: all five services share this database, each with its own history
    env = {"LOTSE_DATABASE_URL": postgres_url, "LOTSE_DATA_DIR": str(tmp_path)}
    up = lotse("db", "upgrade", **env)
    assert up.returncode == 0, up.stderr
    heads = [head_of(history_for(s, "municipal")) for s in ALL_SERVICES]
    assert [ln.split() for ln in up.stdout.splitlines()] == [
        [s, "empty", "->", h] for s, h in zip(ALL_SERVICES, heads, strict=True)]
    current = lotse("db", "current", **env)
    assert current.returncode == 0 and [ln.split()[1:3] for ln in current.stdout.splitlines()] == [
        [h, "(head)"] for h in heads]
    for service in ALL_SERVICES:
        history = history_for(service, "municipal")
        assert differences(history, postgres_url) == [], service
    state = lotse("db", "upgrade", "--service", "funding", LOTSE_LEVEL="state", **env)
    assert state.returncode == 0 and state.stdout.split() == [
        "funding", "(state)", "empty", "->", head_of(history_for("funding", "state"))]


def test_lotse_db_upgrade_on_the_sqlite_default(tmp_path: Path) -> None:
    up = lotse("db", "upgrade", "--node", str(tmp_path / "node"))
    assert up.returncode == 0 and len(up.stdout.splitlines()) == len(ALL_SERVICES), up.stderr
    assert {p.name for p in (tmp_path / "node").glob("*.db")} == {f"{s}.db" for s in ALL_SERVICES}
    history = lotse("db", "history", "--node", str(tmp_path / "node"), "--service", "notifications")
    assert history.returncode == 0
    head = head_of(history_for("notifications", "municipal"))
    assert history.stdout.splitlines()[0] == f"notifications (lotse_version_notifications): {head} (head)"


def test_a_postgres_database_from_before_migrations_is_adopted(postgres_url: str) -> None:
    history = history_for("cases", "municipal")  # what nodes created before migrations, as the SQLite test
    db = Database(postgres_url, history.tables)
    db.create_all()
    db.dispose()
    assert status(history, postgres_url).legacy
    assert upgrade(history, postgres_url) == Upgraded("0001", head_of(history), adopted=True)
    assert differences(history, postgres_url) == []


def test_a_node_behind_its_code_refuses_to_start_unless_it_may_upgrade(
        start_node: Callable[..., NodeHandle], tmp_path: Path) -> None:
    with pytest.raises(MigrationError) as refused:
        start_node("plans", db_auto_upgrade=False)
    head = head_of(history_for("plans", "municipal"))
    assert str(refused.value).startswith(f"plans: database is empty, code at {head}; run `lotse db upgrade --node ")
    node = start_node("plans")  # the embedded default upgrades by itself
    assert node.settings.db_auto_upgrade
    assert status(history_for("plans", "municipal"), node.settings.database_url_for("plans")).at_head


def test_a_node_on_a_database_ahead_of_its_code_refuses_to_start(
        start_node: Callable[..., NodeHandle], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'cases.db'}"
    upgrade(history_for("cases", "municipal"), url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE lotse_version_cases SET version_num = '0042'"))
    engine.dispose()
    with pytest.raises(MigrationError, match=r"^cases: database at revision 0042 \(unknown to this code"):
        start_node("cases", database_url=f"sqlite:///{tmp_path / 'db'}/{{service}}.db", db_auto_upgrade=True)
