"""`lotse federation`: a node's signing key, and the state's registry of municipal nodes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from sqlmodel import Session

from shared.errors import DomainError, InvalidInput
from shared.runtime.target import ConfigOpt, Target, fail, on_bus, target

fed_app = typer.Typer(no_args_is_help=True, help="Federation between municipal nodes and the state")
StateOpt = Annotated[str | None, typer.Option("--state", help="the state node's data dir or config file")]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="change the ACL user on the state Redis too")]


def state_node(state: str | None, config: str | None) -> Target:
    t = target(state, config)
    if t.settings.level != "state":
        fail(f"--state/--config: node {t.settings.node_id} is not a state node (LOTSE_LEVEL=state)")
    return t


@contextmanager
def registry(t: Target, *, write: bool = True) -> Iterator[Session | None]:
    """A session on the state's registry, committed once; None when a read finds no registry yet."""
    from shared.db import Database
    from shared.federation.models import FEDERATION_TABLES
    from shared.migrations.history import history_for, sqlite_missing
    from shared.migrations.runner import ensure_current

    s = t.settings
    url = s.database_url_for("federation")
    if not write and sqlite_missing(url):
        yield None  # reading creates nothing
        return
    ensure_current(history_for("federation", "state"), url, auto_upgrade=s.db_auto_upgrade, node_dir=s.data_dir)
    db = Database(url, FEDERATION_TABLES)
    try:
        with db.session() as session:
            try:
                yield session
            except DomainError as exc:
                session.rollback()
                field = f"--{exc.field.replace('_', '-')}: " if isinstance(exc, InvalidInput) else ""
                reason = exc.reason if isinstance(exc, InvalidInput) else str(exc)
                fail(field + reason, 2 if isinstance(exc, InvalidInput) else 1)
            session.commit()
    finally:
        db.dispose()


@fed_app.command("key")
def federation_key(
    node: Annotated[str, typer.Option("--node", help="the node's data dir or config file")],
    next_key: Annotated[bool, typer.Option("--next", help="make (or show) the key for a rotation")] = False,
    activate: Annotated[bool, typer.Option("--activate", help="sign with the --next key from now on")] = False,
) -> None:
    """Print this node's Ed25519 public key (created on first use) for registration at the state."""
    from shared.federation import crypto

    data_dir = target(node).settings.data_dir
    if next_key and activate:
        fail("--next, --activate: one at a time (first --next, then rotate-key at the state, then --activate)")
    if activate:
        if not crypto.next_key_path(data_dir).exists():
            fail("--activate: no next key: make one with `lotse federation key --next` and register it at the "
                 "state with `lotse federation rotate-key` first", 1)
        typer.echo(crypto.public_key_b64(crypto.activate_next_key(data_dir)))
        return
    key = crypto.next_signing_key(data_dir) if next_key else crypto.node_signing_key(data_dir)
    typer.echo(crypto.public_key_b64(key))


@fed_app.command("add-node")
def federation_add_node(
    node_id: Annotated[str, typer.Option("--node-id", help="the municipal node's id")],
    tenant: Annotated[list[str], typer.Option("--tenant", help="AGS code served by it (repeatable)")],
    public_key: Annotated[str, typer.Option("--public-key", help="output of `lotse federation key`")],
    config: ConfigOpt = None,
    state: StateOpt = None,
    apply: ApplyOpt = False,
    public_url: Annotated[str | None, typer.Option(
        "--public-url", help="the state Redis as municipal nodes reach it, e.g. rediss://state.example:6380/0",
    )] = None,
) -> None:
    """Register a municipal node at the state; print its ACL line and link URL (or --apply them)."""
    from shared.federation import registry as reg

    t = state_node(state, config)
    try:  # the cheap checks before the registry is even opened
        reg.check_node_id(node_id)
        reg.check_public_key(public_key)
    except InvalidInput as exc:
        fail(f"--{exc.field.replace('_', '-')}: {exc.reason}")
    bus = t.bus() if apply else t.known_bus()
    if apply:
        from shared.runtime.checks import redis_client

        assert bus is not None
        redis_client(bus).close()  # the state Redis answers: no registration without its ACL user
    with registry(t) as session:
        assert session is not None
        reg.register(session, node_id=node_id, tenants=tenant, public_key=public_key)
    password = secrets.token_urlsafe(24)
    if apply:
        on_bus(t, lambda redis: reg.apply_acl(redis, node_id, password))
    typer.echo(f"# registered {node_id} ({', '.join(tenant)}); ACL rule for the state Redis"
               + (" (applied):" if apply else ":"))
    typer.echo(reg.acl_file_line(node_id, password))
    reachable = public_url or (bus.url if bus else None)
    if reachable:
        typer.echo(f"LOTSE_STATE_REDIS_URL={reg.link_url(reachable, node_id, password)}")


@fed_app.command("list")
def federation_list(
    config: ConfigOpt = None,
    state: StateOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The state's registered nodes: tenants, last heartbeat, key rotation in progress."""
    from shared.events import utcnow
    from shared.federation.registry import node_statuses

    with registry(state_node(state, config), write=False) as session:
        nodes = node_statuses(session, now=utcnow()) if session is not None else []
    if as_json:
        typer.echo(json.dumps([n.model_dump(mode="json") for n in nodes], indent=2))
        return
    if not nodes:
        typer.echo("no nodes registered")
    for n in nodes:
        seen = f"last seen {n.last_seen_age_s:.0f}s ago" if n.last_seen_age_s is not None else "never seen"
        rotation = f"  old key valid until {n.previous_key_until:%Y-%m-%d %H:%M}" if n.previous_key_until else ""
        typer.echo(f"{n.node_id:<24} {','.join(n.tenants):<28} {seen}{'  SILENT' if n.silent else ''}{rotation}")


@fed_app.command("remove")
def federation_remove(
    node_id: Annotated[str, typer.Argument(metavar="NODE")],
    config: ConfigOpt = None,
    state: StateOpt = None,
    apply: ApplyOpt = False,
) -> None:
    """Forget a node: its envelopes are rejected from now on (--apply also deletes its ACL user)."""
    from shared.federation import registry as reg

    t = state_node(state, config)
    if apply:
        from shared.runtime.checks import redis_client

        redis_client(t.bus()).close()
    with registry(t) as session:
        assert session is not None
        reg.remove(session, node_id=node_id)
    if apply:
        on_bus(t, lambda redis: reg.remove_acl(redis, node_id))
        typer.echo(f"removed {node_id} and its ACL user {reg.acl_user(node_id)}")
    else:
        typer.echo(f"removed {node_id}; delete the ACL user {reg.acl_user(node_id)} from the state Redis "
                   "(or run again with --apply)")


@fed_app.command("rotate-key")
def federation_rotate_key(
    node_id: Annotated[str, typer.Argument(metavar="NODE")],
    public_key: Annotated[str, typer.Option("--public-key", help="output of `lotse federation key --next`")],
    overlap_hours: Annotated[float, typer.Option("--overlap-hours", min=0, max=24 * 90,
                                                 help="how long the old key still verifies")] = 24.0,
    config: ConfigOpt = None,
    state: StateOpt = None,
) -> None:
    """Accept a node's new key now and its old key for the overlap (then `key --activate` on the node)."""
    from shared.events import utcnow
    from shared.federation import registry as reg

    with registry(state_node(state, config)) as session:
        assert session is not None
        node = reg.rotate_key(session, node_id=node_id, public_key=public_key,
                              overlap=timedelta(hours=overlap_hours), now=utcnow())
        until = node.previous_key_until
    typer.echo(f"{node_id}: new key registered; the old key verifies until {until:%Y-%m-%d %H:%M} UTC. "
               f"On the node: lotse federation key --node <DIR> --activate")

