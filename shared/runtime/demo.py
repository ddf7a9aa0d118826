"""`lotse demo`: a state node and two municipal nodes on one machine, seeded, with live activity."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.db import Database
from shared.federation.crypto import node_signing_key, public_key_b64
from shared.federation.keys import STATE_TENANT
from shared.federation.models import FEDERATION_TABLES
from shared.federation.registry import apply_acl, link_url, register
from shared.runtime.demo_nodes import DemoNode, api
from shared.runtime.demo_seed import NAMES, record_consultation, seed, seed_funding_years, wait_for_applications
from shared.runtime.embedded import free_port
from shared.runtime.failures import OperatorError

NODES = {  # node id -> municipalities (AGS)
    "stuttgart": ["08111000"],
    "rhein-neckar-it": ["08221000", "08222000"],  # an IT provider hosting Heidelberg and Mannheim
}


def link(state: DemoNode, node: DemoNode) -> str:
    """Register a municipal node at the running state node and (re)create its ACL user; its link URL."""
    state_redis = json.loads((state.data_dir / "node.json").read_text())["redis_url"]
    db = Database(f"sqlite:///{state.data_dir / 'federation.db'}", FEDERATION_TABLES)
    try:
        with db.session() as session:
            register(session, node_id=node.node_id, tenants=node.tenants,
                     public_key=public_key_b64(node_signing_key(node.data_dir)))
            session.commit()
    finally:
        db.dispose()
    from redis.asyncio import Redis

    async def acl() -> str:
        r = Redis.from_url(state_redis)
        try:
            return await apply_acl(r, node.node_id)
        finally:
            await r.aclose()

    return link_url(state_redis, node.node_id, asyncio.run(acl()))


def parse_ports(text: str) -> tuple[int, int, int]:
    """`--ports STATE,A,B`: three different TCP ports."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise OperatorError(f"--ports: {text!r}: give three ports, e.g. 8100,8101,8102", 2)
    state, a, b = (int(p) for p in parts)
    if not all(1 <= p <= 65535 for p in (state, a, b)) or len({state, a, b}) != 3:
        raise OperatorError(f"--ports: {text!r}: three different ports between 1 and 65535", 2)
    return state, a, b


def in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def default_ports() -> tuple[int, int, int]:
    """8100-8102 when free, else any free ports."""
    wanted = (8100, 8101, 8102)
    if any(in_use(p) for p in wanted):
        return free_port(), free_port(), free_port()
    return wanted


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM stops the demo like Ctrl-C does: every node it started is stopped in order."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def seeded(base: Path, municipal: list[DemoNode], rng: random.Random, state: DemoNode) -> dict[str, Any]:
    """The demo's cases: seeded once, then kept (base/demo.json) until `--fresh`."""
    marker = base / "demo.json"
    if marker.exists():
        print("keeping the existing demo data (`lotse demo --fresh` starts over)", flush=True)
        return dict(json.loads(marker.read_text()))
    print("seeding demo data ...", flush=True)
    officer = state.token("funding-officer", "funding_officer", [STATE_TENANT])
    seed_funding_years(state, officer)
    cases = {node.node_id: seed(node, rng) for node in municipal}
    submitted = wait_for_applications(state, officer, sum(len(n.tenants) for n in municipal))
    api(state, "POST", f"/api/funding/v1/extension-applications/{submitted[0]['id']}/decision",
        officer, {"approved": True, "reason": "Funding year 2027 approved"})
    marker.write_text(json.dumps(cases))
    return cases


def run_demo(base: Path, ports: tuple[int, int, int] | None, seed_only: bool, fresh: bool = False) -> int:
    """Start the three nodes, seed them once, print URLs and users, then trickle activity until stopped."""
    taken = [p for p in ports or () if in_use(p)]
    if taken:
        raise OperatorError(f"--ports: {', '.join(map(str, taken))} already in use", 2)
    if fresh and base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    p_state, p_a, p_b = ports or default_ports()
    state = DemoNode(base, "state", "state", [STATE_TENANT], p_state)
    municipal = [DemoNode(base, nid, "municipal", tenants, port)
                 for (nid, tenants), port in zip(NODES.items(), (p_a, p_b), strict=True)]
    nodes = [state, *municipal]
    rng = random.Random(2026)
    try:
        with stopped_by_signals():
            print("starting the state node ...", flush=True)
            state.start()
            state.wait_ready()
            for node in municipal:
                node.data_dir.mkdir(parents=True, exist_ok=True)
                node.env["LOTSE_STATE_REDIS_URL"] = link(state, node)
                node.start()
            for node in municipal:
                node.wait_ready()
            cases = seeded(base, municipal, rng, state)
            print_banner(state, municipal)
            if seed_only:
                return 0
            print("live activity: a consultation every few seconds (Ctrl-C to stop)", flush=True)
            while True:
                node = rng.choice(municipal)
                tenant, manager, case_id = rng.choice(cases[node.node_id])
                record_consultation(node, node.token(manager, "manager", [tenant]), case_id, rng)
                time.sleep(rng.uniform(1.5, 4.0))
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stop short and leave nodes behind.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        print("stopping ...", flush=True)
        for node in reversed(nodes):
            node.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_banner(state: DemoNode, municipal: list[DemoNode]) -> None:
    lines = ["", "Lotse demo is running. Open a node's web app and sign in by picking a demo user:", ""]
    lines.append(f"  web app   {municipal[0].url}/   ({', '.join(NAMES[t] for t in municipal[0].tenants)}; "
                 f"start here as manager-{NAMES[municipal[0].tenants[0]].lower()}-1)")
    for node in municipal[1:]:
        lines.append(f"            {node.url}/   ({', '.join(NAMES[t] for t in node.tenants)})")
    lines.append(f"            {state.url}/   (state node: funding officer, state operator)")
    lines += ["", "APIs and their documentation:",
              f"  state node          {state.url}/api   (docs {state.url}/docs)"]
    for node in municipal:
        lines.append(f"  municipal node {node.node_id:<14} {node.url}/api   (docs {node.url}/docs; "
                     f"{', '.join(NAMES[t] + ' ' + t for t in node.tenants)})")
    lines += ["", "demo users (the web app's sign-in page lists them; for curl: bearer token, valid 7 days)"]
    users = [(state, "state-operator", "state_operator", STATE_TENANT),
             (state, "funding-officer", "funding_officer", STATE_TENANT),
             (state, f"node-admin-{state.node_id}", "node_admin", STATE_TENANT)]
    for node in municipal:
        for tenant in node.tenants:
            name = NAMES[tenant].lower()
            users += [(node, f"lead-{name}", "lead", tenant), (node, f"manager-{name}-1", "manager", tenant)]
        users.append((node, f"node-admin-{node.node_id}", "node_admin", node.tenants[0]))
    for node, sub, role, tenant in users:
        where = NAMES.get(tenant, "state") if role != "node_admin" else node.node_id
        lines.append(f"  {sub:<22} {role:<16} {where:<15} {node.token(sub, role, [tenant])}")
    lines.append(f"  try: curl -H 'Authorization: Bearer <state-operator token>' "
                 f"{state.url}/api/cases/v1/statistics/consultations")
    lines.append("")
    print("\n".join(lines), flush=True)
