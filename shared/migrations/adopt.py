"""Databases created before migrations (tables, no version table): taken over at the first revision."""

from __future__ import annotations

import io
import logging
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Index, Table, inspect

from .errors import MigrationError
from .history import History, script_of

log = logging.getLogger(__name__)


def base_schema(history: History) -> tuple[str, list[Table], list[Index]]:
    """The first revision with the tables and indexes it creates, read by running it offline."""
    script = script_of(history)
    base = script.get_base()
    if base is None:
        raise MigrationError(f"{history.name}: no revisions in {history.location}")
    tables: list[Table] = []
    indexes: list[Index] = []
    context = MigrationContext.configure(dialect_name="sqlite", opts={"as_sql": True, "output_buffer": io.StringIO()})

    def record_table(table: Table, **_: Any) -> None:
        tables.append(table)

    def record_index(index: Index, **_: Any) -> None:
        indexes.append(index)

    context.impl.create_table = record_table  # type: ignore[method-assign]
    context.impl.create_index = record_index  # type: ignore[method-assign]
    with Operations.context(context):
        script.get_revision(base).module.upgrade()  # type: ignore[union-attr]
    return base, tables, indexes


def adopt(history: History, conn: Connection) -> str:
    """Complete the schema as nodes did at start before migrations (missing tables, missing nullable
    columns), then stamp the first revision; refuse what that cannot fix. Returns the revision."""
    base, tables, indexes = base_schema(history)
    insp = inspect(conn)
    have = set(insp.get_table_names())
    new_tables = [t for t in tables if t.name not in have]
    new_columns: list[tuple[str, Column[Any]]] = []
    impossible: list[str] = []
    for table in (t for t in tables if t.name in have):
        present = {c["name"] for c in insp.get_columns(table.name)}
        for column in (c for c in table.columns if c.name not in present):
            if column.nullable and not column.primary_key:
                new_columns.append((table.name, Column(column.name, column.type, nullable=True)))
            else:
                impossible.append(f"{table.name}.{column.name}")
    if impossible:
        raise MigrationError(
            f"{history.name}: the database's tables predate migrations and lack the required column(s) "
            f"{', '.join(impossible[:6])} of revision {base}; back it up and move it away, or add them by hand")
    for table in new_tables:
        table.create(conn)
    for index in indexes:
        if index.table is not None and index.table.name in {t.name for t in new_tables}:
            index.create(conn)
    ops = Operations(MigrationContext.configure(conn))
    for table_name, column in new_columns:
        ops.add_column(table_name, column)
    MigrationContext.configure(conn, opts={"version_table": history.version_table}).stamp(script_of(history), base)
    log.info("%s: adopted a database from before migrations at revision %s (added %d tables, %d columns)",
             history.name, base, len(new_tables), len(new_columns))
    return base
