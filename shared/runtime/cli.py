"""The `lotse` command line: run nodes, issue dev tokens, inspect the bus and dead letters."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.settings import Settings, SettingsError, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Lotse: Integrationsmanagement platform")
node_app = typer.Typer(no_args_is_help=True, help="Run and check a node")
events_app = typer.Typer(no_args_is_help=True, help="The node's event bus")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters")
app.add_typer(node_app, name="node")
app.add_typer(events_app, name="events")
fed_app = typer.Typer(no_args_is_help=True, help="Federation between municipal nodes and the state")
app.add_typer(dlq_app, name="dlq")
app.add_typer(fed_app, name="federation")

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="TOML config file (or LOTSE_* env)")]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"lotse: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        fail(str(exc))
        raise


def node_info(node: str | None, config: str | None) -> dict[str, Any]:
    """Identity and bus URL of a node, from its data dir (`node.json`) or its config."""
    if node:
        path = Path(node)
        if path.is_dir() and (path / "node.json").exists():
            info = json.loads((path / "node.json").read_text())
            info["data_dir"] = str(path)
            return info
        if path.is_dir() and not (path / "lotse.toml").exists():
            # a data dir of a node that has not started yet: identity from the environment
            s = settings_or_exit(None, data_dir=path)
            return {"node_id": s.node_id, "level": s.level, "tenants": s.tenants, "data_dir": str(path),
                    "redis_url": s.redis_url, "oidc_issuer": s.oidc_issuer}
        config = node
    s = settings_or_exit(config)
    info_file = s.data_dir / "node.json"
    info = json.loads(info_file.read_text()) if info_file.exists() else {}
    return {"node_id": s.node_id, "level": s.level, "tenants": s.tenants, "data_dir": str(s.data_dir),
            "redis_url": s.redis_url or info.get("redis_url"), "oidc_issuer": s.oidc_issuer}


def redis_for(node: str | None, config: str | None) -> Any:
    from redis.asyncio import Redis

    url = node_info(node, config).get("redis_url")
    if not url:
        fail("no Redis URL: set LOTSE_REDIS_URL or start the node once (it records its embedded server)")
    return Redis.from_url(url)


@node_app.command("up")
def node_up(
    config: ConfigOpt = None,
    services: Annotated[str | None, typer.Option(help="split mode: e.g. cases,plans")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (LOTSE_HTTP_PORT)")] = None,
) -> None:
    """Run one node: all services in one process by default, or only --services."""
    overrides: dict[str, Any] = {}
    if services:
        overrides["services"] = services
    if port is not None:
        overrides["http_port"] = port
    settings = settings_or_exit(config, **overrides)
    from shared.runtime.runner import run_node

    run_node(settings)


@app.command("relay")
def relay(config: ConfigOpt = None) -> None:
    """Run only the federation link of a municipal node (needs LOTSE_STATE_REDIS_URL)."""
    settings = settings_or_exit(config, services="federation")
    if settings.level == "municipal" and not settings.state_redis_url:
        fail("LOTSE_STATE_REDIS_URL: required to run the relay of a municipal node")
    from shared.runtime.runner import run_node

    run_node(settings)


@fed_app.command("key")
def federation_key(
    node: Annotated[str, typer.Option("--node", help="the node's data dir or config file")],
) -> None:
    """Print this node's Ed25519 public key (created on first use) for registration at the state."""
    from shared.federation.crypto import node_signing_key, public_key_b64

    typer.echo(public_key_b64(node_signing_key(Path(node_info(node, None)["data_dir"]))))


@fed_app.command("add-node")
def federation_add_node(
    node_id: Annotated[str, typer.Option("--node-id", help="the municipal node's id")],
    tenant: Annotated[list[str], typer.Option("--tenant", help="AGS code served by it (repeatable)")],
    public_key: Annotated[str, typer.Option("--public-key", help="output of `lotse federation key`")],
    config: ConfigOpt = None,
    state: Annotated[str | None, typer.Option("--state", help="state node data dir or config")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="create the ACL user on the state Redis")] = False,
    public_url: Annotated[str | None, typer.Option(
        "--public-url", help="the state Redis as municipal nodes reach it, e.g. rediss://state.example:6380/0",
    )] = None,
) -> None:
    """Register a municipal node at the state; print its ACL line and link URL (or --apply them)."""
    import base64
    import secrets

    from shared.db import Database
    from shared.federation.models import FEDERATION_TABLES
    from shared.federation.registry import acl_file_line, apply_acl, link_url, register
    from shared.settings import AGS

    info = node_info(state, config)
    if info.get("level") != "state":
        fail("--state/--config: not a state node (LOTSE_LEVEL=state)")
    bad = [t for t in tenant if not AGS.match(t)]
    if bad:
        fail(f"--tenant: not an 8-digit AGS code: {', '.join(bad)}")
    try:
        if len(base64.b64decode(public_key, validate=True)) != 32:
            raise ValueError
    except ValueError:
        fail("--public-key: not a base64 Ed25519 public key (32 bytes)")
    settings = settings_or_exit(state if state and not Path(state).is_dir() else config)
    if state and Path(state).is_dir():
        settings = settings_or_exit(None, node_id=info["node_id"], level="state",
                                    tenants=info["tenants"], data_dir=Path(info["data_dir"]))
    db = Database(settings.database_url_for("federation"), FEDERATION_TABLES)
    db.migrate()
    register(db, node_id, tenant, public_key)
    password = secrets.token_urlsafe(24)
    if apply:
        redis = redis_for(state, config)

        async def run() -> None:
            try:
                await apply_acl(redis, node_id, password)
            finally:
                await redis.aclose()

        asyncio.run(run())
    typer.echo(f"# registered {node_id} ({', '.join(tenant)}); ACL rule for the state Redis:")
    typer.echo(acl_file_line(node_id, password))
    reachable = public_url or info.get("redis_url")
    if reachable:
        typer.echo(f"LOTSE_STATE_REDIS_URL={link_url(reachable, node_id, password)}")


@app.command("demo")
def demo(
    base: Annotated[Path, typer.Option(help="where the demo nodes keep their data")] = Path("var/demo"),
    seed_only: Annotated[bool, typer.Option("--seed-only", help="seed, print, stop")] = False,
    ports: Annotated[str | None, typer.Option(help="STATE,A,B ports (default: free ports)")] = None,
) -> None:
    """A state node and two municipal nodes (one hosting two municipalities), seeded, live."""
    from shared.runtime.demo import run_demo

    chosen = tuple(int(p) for p in ports.split(",")) if ports else None
    if chosen is not None and len(chosen) != 3:
        fail("--ports: give three ports, e.g. 8100,8101,8102")
    raise typer.Exit(run_demo(base, chosen, seed_only))  # type: ignore[arg-type]


@node_app.command("check")
def node_check(config: ConfigOpt = None) -> None:
    """Validate config, reach Redis and the databases, report versions and lag."""
    settings = settings_or_exit(config)
    from shared.runtime.runner import check_node

    ok = asyncio.run(check_node(settings))
    raise typer.Exit(0 if ok else 1)


@app.command("token")
def token(
    node: Annotated[str, typer.Option("--node", help="the node's data dir or config file")],
    sub: Annotated[str, typer.Option("--sub", help="subject (user id)")],
    role: Annotated[list[str], typer.Option("--role", help="manager, lead, node_admin, ...")],
    tenant: Annotated[list[str] | None, typer.Option("--tenant", help="AGS code (repeatable)")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 12 * 3600,
) -> None:
    """Print a dev bearer token for that node."""
    from shared.auth import TokenError, issue_dev_token

    info = node_info(node, None)
    if info.get("oidc_issuer"):
        fail("dev tokens are disabled: this node trusts the OIDC issuer " + info["oidc_issuer"])
    try:
        typer.echo(issue_dev_token(Path(info["data_dir"]), node_id=info["node_id"],
                                   node_tenants=info["tenants"], sub=sub, roles=role,
                                   tenants=tenant or [], ttl_s=ttl))
    except TokenError as exc:
        fail(str(exc))


@events_app.command("tail")
def events_tail(
    stream: Annotated[list[str] | None, typer.Option("--stream", help="stream name(s)")] = None,
    node: Annotated[str | None, typer.Option(help="data dir or config of the node")] = None,
    config: ConfigOpt = None,
    from_start: Annotated[bool, typer.Option("--from-start")] = False,
    count: Annotated[int | None, typer.Option(help="stop after this many entries")] = None,
) -> None:
    """Follow the node's bus (all event streams by default), one JSON line per entry."""
    from shared.events import STREAMS

    streams = stream or list(STREAMS.values())

    async def follow() -> None:
        redis = redis_for(node, config)
        ids = {s: "0-0" if from_start else "$" for s in streams}
        seen = 0
        try:
            while count is None or seen < count:
                res = await redis.xread(ids, block=1000, count=100)
                for name, entries in res or []:
                    for entry_id, fields in entries:
                        ids[name.decode()] = entry_id.decode()
                        body = fields.get(b"event", b"").decode(errors="replace")
                        typer.echo(json.dumps({"stream": name.decode(), "id": entry_id.decode(),
                                               "event": _maybe_json(body)}))
                        seen += 1
        finally:
            await redis.aclose()

    with suppress(KeyboardInterrupt):
        asyncio.run(follow())


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@events_app.command("docs")
def events_docs(out: Annotated[Path, typer.Option(help="output folder")] = Path("docs/events")) -> None:
    """Write the AsyncAPI document and a JSON Schema per contract."""
    from shared.events.docs import write_docs

    for path in write_docs(out):
        typer.echo(str(path))


@dlq_app.command("list")
def dlq_list(
    node: Annotated[str | None, typer.Option(help="data dir or config of the node")] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead letters: id, origin, error, deliveries."""
    from shared.bus.deadletter import list_dead_letters

    async def run() -> list[Any]:
        redis = redis_for(node, config)
        try:
            return await list_dead_letters(redis, count=1000)
        finally:
            await redis.aclose()

    letters = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([d.as_dict() for d in letters], indent=2))
        return
    if not letters:
        typer.echo("no dead letters")
    for d in letters:
        typer.echo(f"{d.id}  {d.group:<14} {d.type or '-':<24} deliveries={d.deliveries}  {d.error[:120]}")


@dlq_app.command("replay")
def dlq_replay(
    dead_letter_id: Annotated[str, typer.Argument(metavar="ID")],
    node: Annotated[str | None, typer.Option(help="data dir or config of the node")] = None,
    config: ConfigOpt = None,
) -> None:
    """Put a dead letter back on its stream (groups that already processed it skip it)."""
    from shared.bus.deadletter import replay

    async def run() -> str:
        redis = redis_for(node, config)
        try:
            return await replay(redis, dead_letter_id)
        finally:
            await redis.aclose()

    try:
        typer.echo(f"replayed {dead_letter_id} as {asyncio.run(run())}")
    except KeyError as exc:
        fail(str(exc.args[0]), 1)


def main() -> None:  # noqa: D103
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
