"""Write a Redis ACL file for a Lotse node; node users come from shared.federation.registry.

    python deploy/redis/make_users_acl.py --app-password P --admin-password A > users.acl
    python deploy/redis/make_users_acl.py ... --node stuttgart=PASSWORD   # state Redis only
    python deploy/redis/make_users_acl.py ... --service cases=PASSWORD    # split mode: a user per service
    python deploy/redis/make_users_acl.py --examples                    # rewrite the *.example files

Run it with Lotse installed (the repo's .venv/bin/python). Redis ACL files allow no comments,
so every explanation lives here and in docs/operations.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.events import STREAMS
from shared.federation.registry import acl_file_line
from shared.federation.relay import UP_STREAMS
from shared.service import ServiceContext, discover
from shared.settings import Settings

HERE = Path(__file__).resolve().parent
APP_USER = "lotse-app"
ADMIN_USER = "lotse-admin"
# The node's own services: streams and hashes under lotse:*, transactions, INFO for
# `lotse node check`; nothing from @dangerous (FLUSHALL, CONFIG, KEYS, ACL, DEBUG, ...).
# The outbox appends a batch and its mark in one script (EVALSHA); a script's commands are checked
# against the user's rules like any other.
SCRIPTS = "+eval +evalsha +script|load +script|exists"
APP_RULES = ("resetkeys ~lotse:* resetchannels -@all +@connection +@stream +@hash +@transaction "
             f"-@dangerous +info {SCRIPTS}")
# Operators: backups, ACL SETUSER/SAVE for `lotse federation add-node --apply`.
ADMIN_RULES = "~* &* +@all"
# Split mode, one user per service (`lotse-<service>`): the service may XADD only to its own stream;
# the streams it consumes it may read, acknowledge, reclaim and trim (a selector without XADD/XDEL);
# on every event stream it may declare consumer groups (a node declares every installed service's).
SERVICE_BASE = f"resetkeys resetchannels -@all +@connection +@transaction +info {SCRIPTS}"
SERVICE_KEYS = "~lotse:dlq ~lotse:errors:* ~lotse:unknown:* ~lotse:bus:*"  # dead letters, bus bookkeeping
SERVICE_WRITES = "+@stream -xdel +@hash +@string +del +exists +expire +pexpire +scan +type"
CONSUMING = ("+xreadgroup +xread +xack +xautoclaim +xclaim +xpending +xinfo +xrange +xrevrange +xlen "
             "+xtrim +xgroup")
DECLARING = "+xgroup|create +xgroup|createconsumer +xinfo|groups +xinfo|stream +xlen"
FEDERATION_KEYS = "~lotse:fed:*"  # the relay's checkpoint and, at the state, the inbound streams' bookkeeping

EXAMPLE_APP_PASSWORD = "example-app-password-change-me"
EXAMPLE_ADMIN_PASSWORD = "example-admin-password-change-me"
EXAMPLE_NODE = "stuttgart"
EXAMPLE_NODE_PASSWORD = "example-node-password-change-me"
EXAMPLES = {
    # the state node's Redis: its own users plus one user per registered municipal node
    "users.acl.example": {EXAMPLE_NODE: EXAMPLE_NODE_PASSWORD},
    # a municipal node's own Redis: no federation users (its relay writes to the state's Redis)
    "municipal-users.acl.example": {},
}


def consumed_streams() -> dict[str, set[str]]:
    """Per installed service: the streams its subscriptions read, at either level."""
    settings = Settings()
    found: dict[str, set[str]] = {}
    for name, spec in discover().items():
        ctx = ServiceContext(name, settings, None)
        found[name] = {sub.stream for level in ("municipal", "state") for sub in spec.at(level).subscriptions(ctx)}
    found.setdefault("federation", set()).update(UP_STREAMS)  # the relay reads what goes up to the state
    return found


def service_rules(service: str) -> str:
    """The ACL rules of one service's user (split mode)."""
    own = [f"~{STREAMS[service]}"] if service in STREAMS else []
    if service == "federation":
        own.append(FEDERATION_KEYS)
    consumed = sorted(consumed_streams().get(service, set()))
    selectors = [f"({' '.join(f'~{s}' for s in consumed)} {CONSUMING})"] if consumed else []
    selectors.append(f"(~lotse:events:* {DECLARING})")
    return " ".join([SERVICE_BASE, *own, SERVICE_KEYS, SERVICE_WRITES, *selectors])


def service_user(service: str) -> str:
    return f"lotse-{service}"


def render(app_password: str, admin_password: str, nodes: dict[str, str],
           services: dict[str, str] | None = None) -> str:
    """The ACL file: default user off, admin, app user, service users, each node as the registry writes it."""
    services = services or {}
    unknown = sorted(set(services) - set(discover()))
    if unknown:
        raise ValueError(f"--service {unknown[0]}: not an installed service")
    for name, value in (("app", app_password), ("admin", admin_password), *nodes.items(), *services.items()):
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"password of {name}: must be non-empty without whitespace")
    lines = [
        "user default off resetpass resetkeys resetchannels -@all",
        f"user {ADMIN_USER} on >{admin_password} {ADMIN_RULES}",
        f"user {APP_USER} on >{app_password} {APP_RULES}",
        *(f"user {service_user(s)} on >{password} {service_rules(s)}" for s, password in sorted(services.items())),
        *(acl_file_line(node_id, password) for node_id, password in sorted(nodes.items())),
    ]
    return "\n".join(lines) + "\n"


def render_example(name: str) -> str:
    return render(EXAMPLE_APP_PASSWORD, EXAMPLE_ADMIN_PASSWORD, EXAMPLES[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-password")
    parser.add_argument("--admin-password")
    parser.add_argument("--node", action="append", default=[], metavar="NODE_ID=PASSWORD")
    parser.add_argument("--service", action="append", default=[], metavar="SERVICE=PASSWORD")
    parser.add_argument("--examples", action="store_true", help="rewrite the *.example files")
    args = parser.parse_args(argv)
    if args.examples:
        for name in EXAMPLES:
            (HERE / name).write_text(render_example(name))
            print(HERE / name)
        return 0
    if not args.app_password or not args.admin_password:
        parser.error("--app-password and --admin-password are required")
    nodes = dict(n.split("=", 1) for n in args.node if "=" in n)
    if len(nodes) != len(args.node):
        parser.error("--node: give NODE_ID=PASSWORD")
    services = dict(s.split("=", 1) for s in args.service if "=" in s)
    if len(services) != len(args.service):
        parser.error("--service: give SERVICE=PASSWORD")
    try:
        sys.stdout.write(render(args.app_password, args.admin_password, nodes, services))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
