"""`lotse db`: each service's database schema through its Alembic migration history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from shared.migrations.errors import MigrationError
from shared.settings import ALL_SERVICES, Settings, SettingsError, load_settings, redact

if TYPE_CHECKING:  # the migrations import the services: only when a db command runs
    from shared.migrations.history import History

db_app = typer.Typer(no_args_is_help=True, help="Each service's database schema (Alembic migrations)")

NodeOpt = Annotated[str | None, typer.Option("--node", help="the node's data dir or config file")]
ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="TOML config file (or LOTSE_* env)")]
ServiceOpt = Annotated[str | None, typer.Option("--service", help="only this service (default: the node's)")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"lotse: {message}", err=True)
    raise typer.Exit(code)


def node_settings(node: str | None, config: str | None) -> Settings:
    """A node's settings from its config file, or from its data dir (+ LOTSE_* env; may not exist yet)."""
    try:
        if node is None:
            return load_settings(config)
        path = Path(node)
        if path.is_file() or (path / "lotse.toml").is_file():
            return load_settings(path)
        if path.suffix == ".toml" or (path.exists() and not path.is_dir()):
            fail(f"--node {node}: no such config file or data dir", 2)
        info = json.loads((path / "node.json").read_text()) if (path / "node.json").is_file() else {}
        return load_settings(None, data_dir=path, **{k: info[k] for k in ("node_id", "level") if k in info})
    except SettingsError as exc:
        fail(str(exc), 2)


def targets(settings: Settings, service: str | None) -> Iterator[tuple[History, str]]:
    """(history, database URL) of each chosen service at the node's level."""
    from shared.migrations.history import history_for

    if service is not None and service not in ALL_SERVICES:
        fail(f"--service: unknown service {service!r}; choose from {', '.join(ALL_SERVICES)}", 2)
    for name in [service] if service else settings.bus_services:
        yield history_for(name, settings.level), settings.database_url_for(name)


@db_app.command("upgrade")
def db_upgrade(node: NodeOpt = None, service: ServiceOpt = None, config: ConfigOpt = None) -> None:
    """Bring the databases to the code's schema (adopting ones created before migrations)."""
    from shared.migrations.runner import upgrade

    try:
        for history, url in targets(node_settings(node, config), service):
            typer.echo(f"{history.name:<22} {upgrade(history, url)}")
    except MigrationError as exc:
        fail(str(exc))


@db_app.command("current")
def db_current(node: NodeOpt = None, service: ServiceOpt = None, config: ConfigOpt = None) -> None:
    """Each database's revision against the code's head (creates nothing)."""
    from shared.migrations.runner import status

    try:
        for history, url in targets(node_settings(node, config), service):
            typer.echo(f"{history.name:<22} {status(history, url).describe():<40} {redact(url)}")
    except MigrationError as exc:
        fail(str(exc))


@db_app.command("history")
def db_history(node: NodeOpt = None, service: ServiceOpt = None, config: ConfigOpt = None) -> None:
    """The revisions of each history, newest first; the database's current one marked."""
    from shared.migrations.history import script_of
    from shared.migrations.runner import status

    try:
        for history, url in targets(node_settings(node, config), service):
            found = status(history, url)
            typer.echo(f"{history.name} ({history.version_table}): {found.describe()}")
            for script in script_of(history).walk_revisions():
                marks = [m for m, on in (("head", script.is_head), ("current", script.revision == found.current))
                         if on]
                typer.echo(f"  {script.revision}  {script.doc:<40} {', '.join(marks)}".rstrip())
    except MigrationError as exc:
        fail(str(exc))


@db_app.command("revision")
def db_revision(
    service: Annotated[str, typer.Option("--service", help="the service whose models changed")],
    message: Annotated[str, typer.Option("--message", "-m", help="what the revision changes")],
    level: Annotated[str, typer.Option("--level", help="municipal or state")] = "municipal",
) -> None:
    """For developers: the next revision of a service's migrations, from what its models changed.

    Writes services/SERVICE/migrations/000N_MESSAGE.py (the state level: services/SERVICE/state/migrations/).

    Alembic autogenerate compares the models with a scratch SQLite database built by the migrations so far.

    Review the file before committing (a rename comes out as a drop and an add).

    tests/unit/test_migrations.py fails while models and migrations disagree.
    """
    from shared.migrations.history import history_for
    from shared.migrations.runner import revision

    if service not in ALL_SERVICES:
        fail(f"--service: unknown service {service!r}; choose from {', '.join(ALL_SERVICES)}", 2)
    try:
        path = revision(history_for(service, level), message)
    except MigrationError as exc:
        fail(str(exc))
    typer.echo(str(path) if path else "no changes: the migrations match the models")
