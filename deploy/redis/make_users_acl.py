"""Write a Redis ACL file for a Lotse node; node users come from shared.federation.registry.

    python deploy/redis/make_users_acl.py --app-password P --admin-password A > users.acl
    python deploy/redis/make_users_acl.py ... --node stuttgart=PASSWORD   # state Redis only
    python deploy/redis/make_users_acl.py --examples                    # rewrite the *.example files

Run it with Lotse installed (the repo's .venv/bin/python). Redis ACL files allow no comments,
so every explanation lives here and in docs/operations.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.federation.registry import acl_file_line

HERE = Path(__file__).resolve().parent
APP_USER = "lotse-app"
ADMIN_USER = "lotse-admin"
# The node's own services: streams and hashes under lotse:*, transactions, INFO for
# `lotse node check`; nothing from @dangerous (FLUSHALL, CONFIG, KEYS, ACL, DEBUG, ...).
APP_RULES = ("resetkeys ~lotse:* resetchannels -@all +@connection +@stream +@hash +@transaction "
             "-@dangerous +info")
# Operators: backups, ACL SETUSER/SAVE for `lotse federation add-node --apply`.
ADMIN_RULES = "~* &* +@all"

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


def render(app_password: str, admin_password: str, nodes: dict[str, str]) -> str:
    """The ACL file: default user off, admin, app user, then each node exactly as the registry writes it."""
    for name, value in (("app", app_password), ("admin", admin_password), *nodes.items()):
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"password of {name}: must be non-empty without whitespace")
    lines = [
        "user default off resetpass resetkeys resetchannels -@all",
        f"user {ADMIN_USER} on >{admin_password} {ADMIN_RULES}",
        f"user {APP_USER} on >{app_password} {APP_RULES}",
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
    sys.stdout.write(render(args.app_password, args.admin_password, nodes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
