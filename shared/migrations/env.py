"""Alembic's environment for every Lotse history; shared.migrations passes the history and connection."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import Connection, TypeDecorator

from shared.migrations.errors import MigrationError
from shared.migrations.history import BUS_TABLE_NAMES, History


def render_item(type_: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """SQLModel's column types (AutoString, UTCDateTime) as what they store: migrations import no sqlmodel."""
    if type_ == "type" and isinstance(obj, TypeDecorator) and not type(obj).__module__.startswith("sqlalchemy"):
        return f"sa.{obj.impl_instance!r}"
    return False


def tidy(_: Any, __: Any, directives: list[ops.MigrationScript]) -> None:
    """No empty revisions; bus tables are shared when services share one database, so only if absent."""
    script = directives[0]
    if script.upgrade_ops is None or script.upgrade_ops.is_empty():
        directives.clear()
        return
    for op in [*script.upgrade_ops.ops, *(script.downgrade_ops.ops if script.downgrade_ops else [])]:
        for one in (*getattr(op, "ops", []), op):  # batch blocks hold their own ops
            if getattr(one, "table_name", None) not in BUS_TABLE_NAMES:
                continue
            if isinstance(one, ops.CreateTableOp | ops.CreateIndexOp):
                one.if_not_exists = True
            elif isinstance(one, ops.DropTableOp | ops.DropIndexOp):
                one.if_exists = True


def run() -> None:
    if context.is_offline_mode():
        raise MigrationError("offline (SQL script) migrations are not supported: run them on a database")
    history: History = context.config.attributes["history"]
    conn: Connection = context.config.attributes["connection"]
    context.configure(
        connection=conn, target_metadata=history.metadata(), version_table=history.version_table,
        include_name=history.include_name, compare_type=True, render_item=render_item,
        render_as_batch=conn.dialect.name == "sqlite", process_revision_directives=tidy)
    with context.begin_transaction():
        context.run_migrations()


run()
