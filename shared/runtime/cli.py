"""The `lotse` command line: run nodes, issue dev tokens, inspect the bus and dead letters."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from shared.runtime.bus_cli import bus_app
from shared.runtime.db_cli import db_app
from shared.runtime.failures import describe
from shared.runtime.federation_cli import fed_app
from shared.runtime.target import ConfigOpt, NodeOpt, fail, on_bus, target
from shared.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Lotse: Integrationsmanagement platform")
node_app = typer.Typer(no_args_is_help=True, help="Run and check a node")
events_app = typer.Typer(no_args_is_help=True, help="The node's event bus")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters")
app.add_typer(node_app, name="node")
app.add_typer(events_app, name="events")
app.add_typer(dlq_app, name="dlq")
app.add_typer(fed_app, name="federation")
app.add_typer(db_app, name="db")
app.add_typer(bus_app, name="bus")

DEBUG = {"on": False}
DEAD_LETTER_ID = re.compile(r"^\d+-\d+$")


@app.callback()
def lotse(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and the start's log")] = False,
          ) -> None:
    """Lotse: Integrationsmanagement platform."""
    DEBUG["on"] = debug


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
    from shared.runtime.runner import run_node

    run_node(load_settings(config, **overrides), debug=DEBUG["on"])


@app.command("relay")
def relay(config: ConfigOpt = None) -> None:
    """Run only the federation link of a municipal node (needs LOTSE_STATE_REDIS_URL)."""
    settings = load_settings(config, services="federation")
    if settings.level == "municipal" and not settings.state_redis_url:
        fail("LOTSE_STATE_REDIS_URL: required to run the relay of a municipal node")
    from shared.runtime.runner import run_node

    run_node(settings, debug=DEBUG["on"])


@node_app.command("check")
def node_check(node: NodeOpt = None, config: ConfigOpt = None) -> None:
    """Validate config, reach Redis, the databases and the OIDC issuer, report versions and lag; creates nothing."""
    from shared.runtime.checks import check_node

    t = target(node, config)
    raise typer.Exit(0 if check_node(t.settings, t.recorded) else 1)


@app.command("demo")
def demo(
    base: Annotated[Path, typer.Option(help="where the demo nodes keep their data")] = Path("var/demo"),
    seed_only: Annotated[bool, typer.Option("--seed-only", help="seed, print, stop")] = False,
    ports: Annotated[str | None, typer.Option(help="STATE,A,B ports (default: free ports)")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="delete the existing demo data first")] = False,
) -> None:
    """A state node and two municipal nodes (one hosting two municipalities), seeded, live."""
    from shared.runtime.demo import parse_ports, run_demo

    raise typer.Exit(run_demo(base, parse_ports(ports) if ports else None, seed_only, fresh=fresh))


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

    s = target(node).settings
    if s.oidc_issuer:
        fail(f"LOTSE_OIDC_ISSUER: dev tokens are disabled: this node trusts the OIDC issuer {s.oidc_issuer}")
    try:
        typer.echo(issue_dev_token(s.data_dir, node_id=s.node_id, node_tenants=s.tenants, sub=sub,
                                   roles=role, tenants=tenant or [], ttl_s=ttl))
    except TokenError as exc:
        fail(str(exc))


@app.command("token-key")
def token_key(
    action: Annotated[str, typer.Argument(help="rotate: sign with a new key, the old one still verifies; "
                                               "retire: the old one no longer verifies")],
    node: Annotated[str, typer.Option("--node", help="the node's data dir or config file")],
) -> None:
    """Rotate the node's dev-token key without downtime: `rotate`, wait out the tokens' lifetime, `retire`."""
    from shared.auth import retire_previous_dev_key, rotate_dev_key

    data_dir = target(node).settings.data_dir
    if action == "rotate":
        rotate_dev_key(data_dir)
        typer.echo("new dev-token key in use; tokens of the previous key stay valid until `token-key retire`")
    elif action == "retire":
        retired = retire_previous_dev_key(data_dir)
        typer.echo("previous dev-token key retired" if retired else "no previous dev-token key to retire")
    else:
        fail(f"token-key: unknown action {action!r}; choose rotate or retire")


@events_app.command("tail")
def events_tail(
    stream: Annotated[list[str] | None, typer.Option("--stream", help="stream name(s)")] = None,
    node: NodeOpt = None,
    config: ConfigOpt = None,
    from_start: Annotated[bool, typer.Option("--from-start")] = False,
    count: Annotated[int | None, typer.Option(min=1, help="stop after this many entries")] = None,
) -> None:
    """Follow the node's bus (all event streams by default), one JSON line per entry."""
    from shared.events import STREAMS

    streams = stream or list(STREAMS.values())

    async def follow(redis: Any) -> None:
        ids = {s: "0-0" if from_start else "$" for s in streams}
        seen = 0
        while count is None or seen < count:
            left = 100 if count is None else min(100, count - seen)
            for name, entries in await redis.xread(ids, block=1000, count=left) or []:
                for entry_id, fields in entries:
                    ids[name.decode()] = entry_id.decode()
                    if count is not None and seen >= count:
                        break  # several streams answered: the first N entries only
                    body = fields.get(b"event", b"").decode(errors="replace")
                    typer.echo(json.dumps({"stream": name.decode(), "id": entry_id.decode(),
                                           "event": _maybe_json(body)}))
                    seen += 1

    with suppress(KeyboardInterrupt):
        on_bus(target(node, config), follow)


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
    node: NodeOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead letters, one line each: id, group, type, deliveries, error (oldest first)."""
    from shared.bus.deadletter import list_dead_letters

    letters = on_bus(target(node, config), lambda redis: list_dead_letters(redis, count=1000))
    if as_json:
        typer.echo(json.dumps([d.as_dict() for d in letters], indent=2))
        return
    if not letters:
        typer.echo("no dead letters")
    for d in letters:  # an error may span lines (a traceback, SQL): one line per entry all the same
        typer.echo(f"{d.id}  {d.group:<14} {d.type or '-':<24} deliveries={d.deliveries}  "
                   f"{' '.join(d.error.split())[:160]}")


@dlq_app.command("replay")
def dlq_replay(
    dead_letter_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="every dead letter, in stream order")] = False,
    group: Annotated[str | None, typer.Option("--group", help="with --all: only this consumer group's")] = None,
    node: NodeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Put dead letters back on their streams (groups that already processed one skip it)."""
    from shared.bus.deadletter import replay
    from shared.bus.deadletter import replay_all as replay_every

    if replay_all == (dead_letter_id is not None):
        fail("ID: give one dead-letter id, or --all (see `lotse dlq list`)")
    if group is not None and not replay_all:
        fail("--group: only with --all")
    if replay_all:
        done = on_bus(target(node, config), lambda redis: replay_every(redis, group))
        for old, new in done:
            typer.echo(f"replayed {old} as {new}")
        typer.echo(f"{len(done)} dead letters replayed")
        return
    assert dead_letter_id is not None
    if not DEAD_LETTER_ID.match(dead_letter_id):
        fail(f"ID: {dead_letter_id!r} is not a dead-letter id (like 1716900000000-0; see `lotse dlq list`)")
    try:
        new_id = on_bus(target(node, config), lambda redis: replay(redis, dead_letter_id))
    except KeyError:
        fail(f"ID: no dead letter {dead_letter_id} (see `lotse dlq list`)", 1)
    typer.echo(f"replayed {dead_letter_id} as {new_id}")


def main() -> None:
    """The CLI's boundary: any failure is one line on stderr and a non-zero exit (--debug: the traceback)."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="lotse", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except NoArgsIsHelpError as exc:
        print(exc.format_message())
        sys.exit(exc.exit_code)
    except ClickException as exc:  # a usage error: what is wrong, and where help is
        ctx = exc.ctx if isinstance(exc, UsageError) else None
        path = ctx.command_path.removeprefix("lotse").strip() if ctx else ""
        hint = f" (see `lotse {path + ' ' if path else ''}--help`)" if ctx else ""
        print(f"lotse: {path + ': ' if path else ''}{exc.format_message()}{hint}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if DEBUG["on"]:
            traceback.print_exc()
        line, status = describe(exc)
        print(f"lotse: {line}", file=sys.stderr, flush=True)
        sys.exit(status)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
