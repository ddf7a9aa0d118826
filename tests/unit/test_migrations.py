"""Migrations: one history per service level that builds exactly the models' schema (SQLite here,
PostgreSQL in tests/integration/test_migrations.py), upgrades, refusals, adoption, the `lotse db` CLI."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Column, Enum, Integer, MetaData, String, Table, create_engine, inspect, text
from typer.testing import CliRunner

from shared.bus.tables import BUS_TABLES
from shared.db import Database
from shared.migrations.errors import MigrationError
from shared.migrations.history import LEVELS, History, all_histories, history_for
from shared.migrations.runner import (
    Upgraded,
    differences,
    ensure_current,
    head_of,
    prepare,
    revision,
    status,
    upgrade,
)
from shared.runtime.cli import app
from shared.service import Level, ServiceContext
from shared.settings import ALL_SERVICES, Settings

HISTORIES = [(s, lvl) for s in ALL_SERVICES for lvl in LEVELS]


def ids(case: tuple[str, str]) -> str:
    return "-".join(case)


def sqlite(tmp_path: Path, name: str = "x") -> str:
    return f"sqlite:///{tmp_path / (name + '.db')}"


def tables_in(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_every_service_level_has_one_history_with_its_own_version_table() -> None:
    histories = all_histories()
    assert len(histories) == 2 * len(ALL_SERVICES)
    assert len({h.version_table for h in histories}) == len(histories)
    for h in histories:
        assert h.location.is_dir() and head_of(h), h.name
        assert {t.name for t in BUS_TABLES} <= h.table_names, "every service database has the bus tables"


@pytest.mark.parametrize("case", HISTORIES, ids=ids)
def test_the_migrations_build_exactly_the_models_schema_on_sqlite(case: tuple[str, str], tmp_path: Path) -> None:
    history, url = history_for(*case), sqlite(tmp_path)
    assert upgrade(history, url) == Upgraded(None, head_of(history))
    assert differences(history, url) == []  # autogenerate would write nothing
    # the filter above hides tables the models no longer have: the migrations must not create them
    assert tables_in(url) == history.table_names | {history.version_table}


def test_statuses_are_stored_as_strings_not_native_enums() -> None:
    native = [f"{t.name}.{c.name}" for h in all_histories() for t in h.tables for c in t.columns
              if isinstance(c.type, Enum)]
    assert not native, "declare sa_type=String(N): our migrations create no ENUM types"


def test_services_sharing_one_database_each_keep_their_history(tmp_path: Path) -> None:
    url = sqlite(tmp_path, "shared")  # as with a LOTSE_DATABASE_URL without {service}
    histories = [history_for(s, "municipal") for s in ALL_SERVICES]
    for h in histories:
        upgrade(h, url)  # the bus tables exist after the first: created only if absent
    for h in histories:
        assert status(h, url).at_head and differences(h, url) == [], h.name


def probe_history(location: Path, *extra: Column) -> History:
    table = Table("probe_item", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(40), nullable=False), *extra)
    return History("probe", "municipal", (table, *BUS_TABLES), location)


def test_a_model_change_becomes_the_next_revision(tmp_path: Path) -> None:
    first = probe_history(tmp_path / "migrations")
    assert revision(first, "initial schema", rev_id="0001") is not None
    assert revision(first, "nothing") is None  # no empty revisions
    url = sqlite(tmp_path)
    upgrade(first, url)
    with create_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO probe_item (id, name) VALUES (1, 'kept')"))
    second = probe_history(first.location, Column("note", String(200)))
    assert differences(second, url)  # the model moved ahead of the database
    path = revision(second, "probe note")
    assert path is not None and path.name == "0002_probe_note.py" and "add_column" in path.read_text()
    assert str(upgrade(second, url)) == "0001 -> 0002"
    assert differences(second, url) == []
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT name, note FROM probe_item")).all() == [("kept", None)]


def test_a_database_behind_is_upgraded_only_when_allowed(tmp_path: Path) -> None:
    history, url = history_for("plans", "municipal"), sqlite(tmp_path)
    with pytest.raises(MigrationError) as refused:
        ensure_current(history, url, auto_upgrade=False, node_dir=tmp_path)
    message = str(refused.value)
    assert message == (f"plans: database is empty, code at {head_of(history)}; "
                       f"run `lotse db upgrade --node {tmp_path}` or set LOTSE_DB_AUTO_UPGRADE=true")
    ensure_current(history, url, auto_upgrade=True, node_dir=tmp_path)
    assert status(history, url).at_head
    ensure_current(history, url, auto_upgrade=False, node_dir=tmp_path)  # at head: nothing to refuse


def test_a_database_ahead_of_the_code_is_refused_even_with_auto_upgrade(tmp_path: Path) -> None:
    history, url = history_for("cases", "municipal"), sqlite(tmp_path)
    upgrade(history, url)
    with create_engine(url).begin() as conn:
        conn.execute(text(f"UPDATE {history.version_table} SET version_num = '9999'"))
    for auto in (True, False):
        with pytest.raises(MigrationError, match=r"^cases: database at revision 9999 \(unknown to this code"):
            ensure_current(history, url, auto_upgrade=auto, node_dir=tmp_path)
    with pytest.raises(MigrationError, match="9999"):
        upgrade(history, url)


def test_a_database_from_before_migrations_is_adopted_with_its_data(tmp_path: Path) -> None:
    history, url = history_for("cases", "municipal"), sqlite(tmp_path)
    Database(url, history.tables).create_all()  # what nodes did before migrations
    with create_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO bus_inbox (\"group\", event_id, processed_at) "
                          "VALUES ('g', 'e', '2025-01-01 00:00:00')"))
    found = status(history, url)
    assert found.legacy and "lotse db upgrade" in found.describe()
    with pytest.raises(MigrationError, match=f"^cases: database has tables from before migrations, code at "
                                             f"{head_of(history)}; run `lotse db upgrade"):
        ensure_current(history, url, auto_upgrade=False, node_dir=tmp_path)
    assert upgrade(history, url) == Upgraded("0001", head_of(history), adopted=True)
    assert status(history, url).at_head and differences(history, url) == []
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT event_id FROM bus_inbox")).scalar() == "e"


def test_adoption_adds_what_nodes_added_at_start_before_migrations(tmp_path: Path) -> None:
    """An old demo's state registry: no key-rotation columns yet, no replay-guard table."""
    history, url = history_for("federation", "state"), sqlite(tmp_path)
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE federation_node (node_id VARCHAR(63) NOT NULL PRIMARY KEY, "
                          "tenants JSON NOT NULL, public_key VARCHAR(100) NOT NULL, acl_user VARCHAR(100) NOT NULL, "
                          "registered_at DATETIME NOT NULL, last_heartbeat_at DATETIME, version VARCHAR, "
                          "relay_lag INTEGER, outbox_backlog INTEGER, dead_letters INTEGER, "
                          "accepted INTEGER NOT NULL, rejected INTEGER NOT NULL, silent_alerted BOOLEAN NOT NULL)"))
        conn.execute(text("INSERT INTO federation_node VALUES ('ulm', '[\"08421000\"]', 'k', 'node-ulm', "
                          "'2025-01-01 00:00:00', NULL, NULL, NULL, NULL, NULL, 3, 0, 0)"))
    assert str(upgrade(history, url)) == "adopted its tables from before migrations at 0001 -> 0002"
    assert status(history, url).at_head and differences(history, url) == []
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT node_id, accepted, previous_public_key FROM federation_node")).all() == [
            ("ulm", 3, None)]


def test_adoption_refuses_tables_that_lack_a_required_column(tmp_path: Path) -> None:
    history, url = history_for("cases", "municipal"), sqlite(tmp_path)
    own = next(t for t in history.tables if t.name.startswith("cases_") and not t.foreign_keys)
    required = next(c.name for c in own.columns if not c.nullable and not c.primary_key)
    Database(url, [t for t in history.tables if t is not own]).create_all()
    with create_engine(url).begin() as conn:  # an old version of one table: a required column missing
        conn.execute(text(f"CREATE TABLE {own.name} (id VARCHAR(26) PRIMARY KEY)"))
    with pytest.raises(MigrationError, match=rf"^cases: .*predate migrations and lack the required column\(s\) "
                                             rf".*{own.name}\.{required}.* of revision 0001"):
        upgrade(history, url)
    assert history.version_table not in tables_in(url)  # nothing half-done


def test_a_level_without_a_history_gets_its_tables_directly(tmp_path: Path) -> None:
    table = probe_history(tmp_path).tables[0]
    settings = Settings(data_dir=tmp_path)
    ctx = ServiceContext("probe", settings, Database(sqlite(tmp_path), [table, *BUS_TABLES]))
    prepare(ctx, Level(tables=[table]))
    assert tables_in(sqlite(tmp_path)) == {"probe_item", *(t.name for t in BUS_TABLES)}


def test_auto_upgrade_is_on_only_for_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOTSE_DB_AUTO_UPGRADE", raising=False)
    monkeypatch.delenv("LOTSE_DATABASE_URL", raising=False)
    assert Settings().db_auto_upgrade is True
    assert Settings(database_url="postgresql+psycopg://db/lotse_{service}").db_auto_upgrade is False
    monkeypatch.setenv("LOTSE_DB_AUTO_UPGRADE", "true")
    assert Settings(database_url="postgresql+psycopg://db/lotse_{service}").db_auto_upgrade is True
    monkeypatch.setenv("LOTSE_DB_AUTO_UPGRADE", "false")
    assert Settings().db_auto_upgrade is False


# -- lotse db ---------------------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    import os

    for key in [k for k in os.environ if k.startswith("LOTSE_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_db_commands_upgrade_and_report_the_sqlite_default(cli: CliRunner, tmp_path: Path) -> None:
    node = tmp_path / "node"
    current = cli.invoke(app, ["db", "current", "--node", str(node)])
    assert current.exit_code == 0 and current.output.count("no database yet") == len(ALL_SERVICES)
    assert not node.exists(), "current creates nothing"
    up = cli.invoke(app, ["db", "upgrade", "--node", str(node)])
    assert up.exit_code == 0, up.output
    assert [ln.split()[0] for ln in up.output.splitlines()] == list(ALL_SERVICES)
    assert [ln.split()[1:] for ln in up.output.splitlines()] == [
        ["empty", "->", head_of(history_for(s, "municipal"))] for s in ALL_SERVICES]
    assert {p.name for p in node.glob("*.db")} == {f"{s}.db" for s in ALL_SERVICES}
    again = cli.invoke(app, ["db", "upgrade", "--node", str(node), "--service", "plans"])
    assert again.exit_code == 0 and again.output.split() == ["plans", "already", "at",
                                                             head_of(history_for("plans", "municipal"))]
    current = cli.invoke(app, ["db", "current", "--node", str(node), "--service", "cases"])
    assert current.output.split()[:3] == ["cases", head_of(history_for("cases", "municipal")), "(head)"]
    history = cli.invoke(app, ["db", "history", "--node", str(node), "--service", "funding"])
    assert history.exit_code == 0
    head = head_of(history_for("funding", "municipal"))
    assert history.output.splitlines()[0] == f"funding (lotse_version_funding): {head} (head)"
    assert history.output.splitlines()[1].split()[0] == head
    assert history.output.splitlines()[1].split()[-2:] == ["head,", "current"]
    assert history.output.splitlines()[-1].split()[:3] == ["0001", "initial", "schema"]


def test_db_commands_use_the_state_level_of_a_state_node(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "node.json").write_text('{"node_id": "land-bw", "level": "state"}')
    up = cli.invoke(app, ["db", "upgrade", "--node", str(tmp_path / "state"), "--service", "federation"])
    assert up.exit_code == 0 and up.output.split() == ["federation", "(state)", "empty", "->", "0002"]
    assert "federation_node" in tables_in(sqlite(tmp_path / "state", "federation"))


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["db", "upgrade", "--service", "nope"], 2, "lotse: --service: unknown service 'nope'; choose from"),
    (["db", "revision", "--service", "nope", "-m", "x"], 2, "lotse: --service: unknown service 'nope'"),
    (["db", "current", "--node", "missing.toml"], 2, "lotse: --node missing.toml: no such config file"),
])
def test_db_commands_fail_in_one_line(cli: CliRunner, args: list[str], code: int, expected: str) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == code and result.output.startswith(expected) and result.output.count("\n") == 1


def test_an_unreachable_database_is_one_line(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOTSE_DATABASE_URL", "postgresql+psycopg://lotse:secret@127.0.0.1:9/lotse_{service}")
    result = cli.invoke(app, ["db", "upgrade", "--service", "cases"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("lotse: cases: database postgresql+psycopg://lotse:***@127.0.0.1:9/lotse_cases")
    assert "secret" not in result.output


def test_revision_with_unchanged_models_writes_nothing(cli: CliRunner, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = history_for("cases", "state")
    copy = replace(real, location=Path(shutil.copytree(real.location, tmp_path / "migrations")))
    monkeypatch.setattr("shared.migrations.history.history_for", lambda service, level: copy)
    before = sorted(p.name for p in copy.location.glob("*.py"))
    result = cli.invoke(app, ["db", "revision", "--service", "cases", "--level", "state", "-m", "nothing"])
    assert result.exit_code == 0 and result.output.strip() == "no changes: the migrations match the models"
    assert sorted(p.name for p in copy.location.glob("*.py")) == before


def test_a_history_without_its_folder_fails_in_one_line(tmp_path: Path) -> None:
    history = replace(history_for("cases", "municipal"), location=tmp_path / "none")
    with pytest.raises(MigrationError, match="no migrations folder"):
        upgrade(history, sqlite(tmp_path))
