"""`lotse bus`: the node's outboxes as an operator reaches them (republish what a bus lost)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from shared.runtime.target import ConfigOpt, NodeOpt, fail, target

bus_app = typer.Typer(no_args_is_help=True, help="The node's outboxes")
AGO = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`15m`, `2h`, `1d` ago, or an ISO time (UTC when it names no zone)."""
    now = now or datetime.now(UTC)
    ago = AGO.match(value.strip())
    if ago:
        return now - timedelta(**{UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--since: {value!r} is neither a duration (15m, 2h, 1d) nor an ISO time (2026-11-30T06:00:00Z)")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@bus_app.command("republish")
def bus_republish(
    since: Annotated[str, typer.Option("--since", help="15m, 2h, 1d ago, or an ISO time")],
    service: Annotated[str | None, typer.Option("--service", help="only this service's outbox")] = None,
    node: NodeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Publish again every event the outboxes published since then; consumers skip what they had."""
    from shared.bus.outbox import republish_since
    from shared.bus.tables import BUS_TABLES
    from shared.db import Database
    from shared.runtime.checks import sqlite_path

    settings = target(node, config).settings
    if service is not None and service not in settings.bus_services:
        fail(f"--service: {service!r} does not run on node {settings.node_id} "
             f"(it runs {', '.join(settings.bus_services)})")
    at = parse_since(since)
    kept_from = datetime.now(UTC) - timedelta(seconds=settings.outbox_retention_s)
    for name in [service] if service else settings.bus_services:
        url = settings.database_url_for(name)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            typer.echo(f"{name:<14} no database yet")
            continue
        db = Database(url, BUS_TABLES)
        try:
            count = republish_since(db, at)
        finally:
            db.dispose()
        typer.echo(f"{name:<14} {count} events to publish again")
    if at < kept_from:
        typer.echo(f"note: outboxes keep published events for LOTSE_OUTBOX_RETENTION_S="
                   f"{settings.outbox_retention_s:g}s: nothing older than {kept_from.isoformat(timespec='seconds')} "
                   "could be republished", err=True)
