"""Upgrade, inspect and extend a history's database through Alembic's API."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import SQLAlchemyError

from shared.service import Level, ServiceContext
from shared.settings import redact

from .adopt import adopt
from .errors import MigrationError
from .history import BUS_TABLE_NAMES, History, engine_for, history_of, script_of, sqlite_missing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """Where a database stands against the code's migrations."""

    current: str | None  # the database's revision; None: empty or from before migrations
    head: str | None  # the code's newest revision
    known: bool  # the current revision is one of the code's
    legacy: bool  # tables but no version table: created before migrations
    exists: bool = True  # False: an SQLite file not yet created

    @property
    def at_head(self) -> bool:
        return self.current == self.head and not self.legacy

    @property
    def ahead(self) -> bool:
        return self.current is not None and not self.known

    def describe(self) -> str:
        if not self.exists:
            return "no database yet"
        if self.ahead:
            return f"{self.current} (unknown to this code: newer than its head {self.head})"
        if self.legacy:
            return "tables from before migrations (`lotse db upgrade` adopts them)"
        if self.current is None:
            return f"empty (head {self.head})"
        return f"{self.current} (head)" if self.at_head else f"{self.current} (behind head {self.head})"


def head_of(history: History) -> str | None:
    heads = script_of(history).get_heads()
    if len(heads) > 1:
        raise MigrationError(f"{history.name}: several heads {', '.join(heads)}: merge them (alembic merge)")
    return heads[0] if heads else None


@contextmanager
def connected(history: History, url: str) -> Iterator[Connection]:
    """One connection in one transaction; database errors become one line naming the service."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise MigrationError(f"{history.name}: database {redact(url)}: {reason}") from None
    finally:
        engine.dispose()


def current_of(history: History, conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": history.version_table}).get_current_revision()


def _is_legacy(history: History, conn: Connection) -> bool:
    """The service's own tables exist without a version table (bus tables may be another's)."""
    names = set(inspect(conn).get_table_names())
    return history.version_table not in names and bool(names & (history.table_names - BUS_TABLE_NAMES))


def _status(history: History, conn: Connection) -> Status:
    current, head = current_of(history, conn), head_of(history)
    known = current is None or current in {s.revision for s in script_of(history).walk_revisions()}
    return Status(current, head, known, current is None and _is_legacy(history, conn))


def status(history: History, url: str) -> Status:
    """Read-only: an SQLite file that does not exist is reported, not created."""
    if sqlite_missing(url):
        return Status(None, head_of(history), True, False, exists=False)
    with connected(history, url) as conn:
        return _status(history, conn)


def _lock(history: History, conn: Connection) -> None:
    """PostgreSQL: one upgrader per history at a time (replicas starting together)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({zlib.crc32(history.version_table.encode())})")


@dataclass(frozen=True)
class Upgraded:
    """What an upgrade did: from which revision (None: empty) to which, and whether it adopted tables."""

    before: str | None
    after: str | None
    adopted: bool = False

    def __str__(self) -> str:
        if self.adopted:
            moved = f" -> {self.after}" if self.after != self.before else ""
            return f"adopted its tables from before migrations at {self.before}{moved}"
        return f"already at {self.after}" if self.before == self.after else f"{self.before or 'empty'} -> {self.after}"


def upgrade(history: History, url: str) -> Upgraded:
    """Bring the database to head in one transaction (adopting tables from before migrations)."""
    with connected(history, url) as conn:
        _lock(history, conn)
        before = _status(history, conn)
        if before.ahead:
            raise MigrationError(f"{history.name}: database at revision {before.describe()}")
        if before.head is None:
            raise MigrationError(f"{history.name}: no revisions in {history.location}")
        start = adopt(history, conn) if before.legacy else before.current
        command.upgrade(history.config(connection=conn), "head")
        return Upgraded(start, current_of(history, conn), before.legacy)


def ensure_current(history: History, url: str, *, auto_upgrade: bool, node_dir: Path) -> None:
    """At node start: upgrade (if allowed) a database behind the code, refuse one ahead of it."""
    found = status(history, url)
    if found.at_head:
        return
    fix = f"run `lotse db upgrade --node {node_dir}` or set LOTSE_DB_AUTO_UPGRADE=true"
    if found.ahead:
        raise MigrationError(f"{history.name}: database at revision {found.describe()}; "
                             "run the newer version, or restore the backup from before its upgrade")
    if not auto_upgrade:
        where = ("has tables from before migrations" if found.legacy else
                 "is empty" if found.current is None else f"is at revision {found.current}")
        raise MigrationError(f"{history.name}: database {where}, code at {found.head}; {fix}")
    log.info("%s: database %s", history.name, upgrade(history, url))


def prepare(ctx: ServiceContext, level: Level) -> None:
    """Node start: the service's database at the code's schema, or MigrationError naming the fix."""
    s = ctx.settings
    history = history_of(ctx.name, s.level, level)
    if history is None:  # a level without a history (test services): its tables directly
        ctx.database.create_all()
        return
    ensure_current(history, ctx.database.url, auto_upgrade=s.db_auto_upgrade, node_dir=s.data_dir)


def differences(history: History, url: str) -> list[Any]:
    """What autogenerate would change in this database: nothing when it matches the models."""
    with connected(history, url) as conn:
        context = MigrationContext.configure(conn, opts={
            "include_name": history.include_name, "compare_type": True, "version_table": history.version_table})
        return list(compare_metadata(context, history.metadata()))


def next_revision_id(history: History) -> str:
    return f"{len(list(script_of(history).walk_revisions())) + 1:04d}"


def revision(history: History, message: str, rev_id: str | None = None) -> Path | None:
    """Autogenerate a revision from the models against a scratch database at head; None: no changes."""
    history.location.mkdir(parents=True, exist_ok=True)
    rev_id = rev_id or next_revision_id(history)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        if head_of(history) is not None:
            upgrade(history, url)
        with connected(history, url) as conn:
            script = command.revision(history.config(connection=conn), message=message,
                                      autogenerate=True, rev_id=rev_id)
    if script is None or isinstance(script, list):
        return None
    ruff = Path(sys.executable).with_name("ruff")  # a developer's venv: the project's code style
    if ruff.exists():
        subprocess.run([str(ruff), "format", "--quiet", script.path], check=False)
    return Path(script.path)
