"""A service level's migration history: the tables it owns, its version table, its Alembic config."""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, NullPool, Table, create_engine, event

from shared.bus.tables import BUS_TABLES
from shared.migrations.errors import MigrationError
from shared.service import Level, ServiceSpec
from shared.settings import ALL_SERVICES

HERE = Path(__file__).parent  # env.py and script.py.mako, shared by every history
LEVELS = ("municipal", "state")
BUS_TABLE_NAMES = frozenset(t.name for t in BUS_TABLES)


@dataclass(frozen=True)
class History:
    """One service level's migrations: its tables plus the bus tables, revisions in `location`."""

    service: str
    level: str
    tables: tuple[Table, ...]
    location: Path

    @property
    def name(self) -> str:
        return self.service if self.level == "municipal" else f"{self.service} (state)"

    @property
    def version_table(self) -> str:
        # Own version table per history: one PostgreSQL database may hold several services.
        return f"lotse_version_{self.service}" + ("" if self.level == "municipal" else "_state")

    @property
    def table_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.tables)

    def metadata(self) -> MetaData:
        """Just this history's tables (SQLModel.metadata holds every service's)."""
        md = MetaData()
        for table in self.tables:
            table.to_metadata(md)
        return md

    def include_name(self, name: str | None, type_: str, parent_names: Any) -> bool:
        """Compare only this history's tables: other services' may share the database."""
        return type_ != "table" or name in self.table_names

    def config(self, **attributes: Any) -> Config:
        """Alembic's configuration without an ini file; env.py finds this history in its attributes."""
        cfg = Config(attributes={"history": self, **attributes}, cmd_opts=Namespace(quiet=True))
        cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", str(self.location).replace("%", "%%"))
        cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        return cfg


def script_of(history: History) -> ScriptDirectory:
    """The history's revisions (Alembic's script directory)."""
    if not history.location.is_dir():
        raise MigrationError(f"{history.name}: no migrations folder {history.location}")
    return ScriptDirectory.from_config(history.config())


def history_of(service: str, level: str, spec_level: Level) -> History | None:
    """The history of a service at a level; None when the level declares no migrations."""
    if spec_level.migrations is None:
        return None
    return History(service, level, (*spec_level.tables, *BUS_TABLES), spec_level.migrations)


def spec_of(service: str) -> ServiceSpec:
    """Load one installed service (not all: a broken one must not stop the others' migrations)."""
    found = list(entry_points(group="lotse.services", name=service))
    if service not in ALL_SERVICES or not found:
        raise MigrationError(f"unknown service {service!r}; choose from {', '.join(ALL_SERVICES)}")
    spec: ServiceSpec = found[0].load()
    return spec


def history_for(service: str, level: str) -> History:
    """The history of an installed service at a level; fails when it declares none."""
    if level not in LEVELS:
        raise MigrationError(f"unknown level {level!r}; choose municipal or state")
    found = history_of(service, level, spec_of(service).at(level))
    if found is None:
        raise MigrationError(f"{service} declares no migrations at the {level} level")
    return found


def all_histories() -> list[History]:
    """Every installed service at both levels."""
    return [history_for(service, level) for service in ALL_SERVICES for level in LEVELS]


def engine_for(url: str) -> Engine:
    """A short-lived engine for migrations: one transaction for the whole upgrade, also on SQLite."""
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and "///" in url:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # No foreign-key enforcement here (SQLite's default): batch migrations copy and drop tables.
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite would commit before DDL: BEGIN ourselves

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sqlite_missing(url: str) -> bool:
    """An SQLite file that does not exist yet (reading must not create it)."""
    if not url.startswith("sqlite") or "///" not in url:
        return False
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()
