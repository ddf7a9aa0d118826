"""`lotse demo`: a state node and two municipal nodes on one machine, seeded, with live activity."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth import issue_dev_token
from shared.db import Database
from shared.federation.crypto import node_signing_key, public_key_b64
from shared.federation.keys import STATE_TENANT
from shared.federation.models import FEDERATION_TABLES
from shared.federation.registry import apply_acl, link_url, register
from shared.runtime.embedded import dies_with_parent, free_port
from shared.runtime.failures import OperatorError

NODES = {  # node id -> municipalities (AGS)
    "stuttgart": ["08111000"],
    "rhein-neckar-it": ["08221000", "08222000"],  # an IT provider hosting Heidelberg and Mannheim
}
NAMES = {"08111000": "Stuttgart", "08221000": "Heidelberg", "08222000": "Mannheim"}
GIVEN = ["Amina", "Yusuf", "Olena", "Ahmad", "Mariam", "Dmytro", "Fatima", "Omid", "Hana", "Samir",
         "Zainab", "Bohdan", "Leyla", "Karim", "Nour", "Aziz"]
FAMILY = ["Haddad", "Rahimi", "Kovalenko", "Mohammadi", "Ibrahim", "Shevchenko", "Nouri", "Yilmaz",
          "Hussaini", "Bondarenko", "Al-Masri", "Karimi"]
ORIGIN = [("SYR", ["ar"]), ("AFG", ["fa", "ps"]), ("UKR", ["uk", "ru"]), ("IRQ", ["ar", "ku"]),
          ("ERI", ["ti"]), ("TUR", ["tr", "ku"])]
GOALS = {"language": "B1 German course with certificate", "work": "Recognition of vocational degree",
         "housing": "Own rental flat", "school": "Enrol children in primary school",
         "education": "Start apprenticeship", "health": "Find a family doctor"}
TOPICS = ["language", "work", "housing", "school", "education", "health", "family", "residence",
          "benefits", "everyday_life"]


class DemoNode:
    """One node process of the demo."""

    def __init__(self, base: Path, node_id: str, level: str, tenants: list[str], port: int,
                 extra: dict[str, str] | None = None) -> None:
        self.node_id, self.level, self.tenants, self.port = node_id, level, tenants, port
        self.data_dir = base / node_id
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
                    "LOTSE_NODE_ID": node_id, "LOTSE_LEVEL": level, "LOTSE_TENANTS": ",".join(tenants),
                    "LOTSE_DATA_DIR": str(self.data_dir), "LOTSE_HTTP_PORT": str(port),
                    "LOTSE_HEARTBEAT_INTERVAL_S": "5", "LOTSE_NODE_SILENCE_S": "60",
                    "LOTSE_RECLAIM_IDLE_MS": "5000", **(extra or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.node_id}.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # Its own session: only the demo stops it (in order); it dies with the demo even on SIGKILL.
            self.proc = subprocess.Popen([sys.executable, "-m", "shared.runtime.cli", "node", "up"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, preexec_fn=dies_with_parent(),
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                said = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
                raise OperatorError(f"node {self.node_id} did not start: {said[-1] if said else 'no output'} "
                                    f"(log: {self.log})")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise OperatorError(f"node {self.node_id} not ready after {timeout:.0f}s (log: {self.log})")

    def token(self, sub: str, role: str, tenants: list[str] | None = None) -> str:
        return issue_dev_token(self.data_dir, node_id=self.node_id, node_tenants=self.tenants, sub=sub,
                               roles=[role], tenants=tenants or self.tenants, ttl_s=7 * 86400)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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


class Refused(RuntimeError):
    """A node answered with an error (seeding retries while a plan is still on its way)."""


def api(node: DemoNode, method: str, path: str, token: str, body: Any = None) -> Any:
    try:
        r = httpx.request(method, node.url + path, json=body, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise OperatorError(f"node {node.node_id}: {method} {path}: {exc} (log: {node.log})") from None
    if r.status_code >= 400:
        raise Refused(f"node {node.node_id}: {method} {path} -> {r.status_code} {r.text[:300]}")
    return r.json()


def eventually(fn: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return fn()
        except Refused:
            time.sleep(0.2)
    return fn()


def seed(node: DemoNode, rng: random.Random) -> list[tuple[str, str, str]]:
    """Cases with consultations and plan goals, and positions with one extension application each."""
    today = date.today()
    cases: list[tuple[str, str, str]] = []
    for tenant in node.tenants:
        managers = [f"manager-{NAMES[tenant].lower()}-{i}" for i in (1, 2)]
        lead = node.token(f"lead-{NAMES[tenant].lower()}", "lead", [tenant])
        for i in range(8):
            manager = managers[i % 2]
            token = node.token(manager, "manager", [tenant])
            nationality, languages = rng.choice(ORIGIN)
            born = date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
            case = api(node, "POST", "/api/cases/v1/cases", token, {
                "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
                "birth_date": born.isoformat(), "nationality": nationality, "languages": languages,
                "household_size": rng.randint(1, 6), "tenant": tenant,
                "accommodation_since": (today - timedelta(days=rng.randint(60, 900))).isoformat()})
            cases.append((tenant, manager, case["id"]))
            for _ in range(rng.randint(2, 4)):
                record_consultation(node, token, case["id"], rng)
            plan = eventually(lambda c=case, t=token: api(node, "GET", f"/api/plans/v1/plans?case_id={c['id']}", t))
            for area in rng.sample(list(GOALS), 2):
                target = today + timedelta(days=rng.randint(-20, 300))
                goal = api(node, "POST", f"/api/plans/v1/plans/{plan['id']}/goals", token,
                           {"area": area, "title": GOALS[area], "target_date": target.isoformat()})
                status = rng.choice(["open", "in_progress", "in_progress", "achieved"])
                if status != "open":
                    api(node, "PATCH", f"/api/plans/v1/plans/{plan['id']}/goals/{goal['id']}", token,
                        {"status": status})
        for fte in (1.0, 0.5):
            start = today - timedelta(days=rng.randint(300, 600))
            pos = api(node, "POST", "/api/funding/v1/positions", lead, {
                "tenant": tenant, "fte": fte, "starts_on": start.isoformat(),
                "ends_on": (start + timedelta(days=730)).isoformat()})
            api(node, "POST", f"/api/funding/v1/positions/{pos['id']}/occupancy", lead,
                {"occupied": True, "since": (start + timedelta(days=30)).isoformat()})
        api(node, "POST", f"/api/funding/v1/positions/{pos['id']}/extension-applications", lead, {})
    return cases


def wait_for_applications(state: DemoNode, token: str, count: int, timeout: float = 60) -> list[Any]:
    """The state's submitted applications once every municipality's has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api(state, "GET", "/api/funding/v1/extension-applications?status=submitted", token)
        items = answer if isinstance(answer, list) else answer["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return list(items)
        time.sleep(0.5)


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


def record_consultation(node: DemoNode, token: str, case_id: str, rng: random.Random) -> None:
    api(node, "POST", f"/api/cases/v1/cases/{case_id}/consultations", token, {
        "held_on": (date.today() - timedelta(days=rng.randint(0, 60))).isoformat(),
        "duration_minutes": rng.choice([20, 30, 45, 60, 90]),
        "mode": rng.choice(["office", "office", "outreach", "phone", "video", "group"]),
        "topics": rng.sample(TOPICS, rng.randint(1, 3))})


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
    cases = {node.node_id: seed(node, rng) for node in municipal}
    officer = state.token("officer-rps", "funding_officer", [STATE_TENANT])
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
    lines = ["", "Lotse demo is running.", "",
             f"state node          {state.url}   (docs {state.url}/docs)",
             f"  try: curl -H 'Authorization: Bearer <token>' {state.url}/api/cases/v1/statistics/consultations",
             ""]
    for node in municipal:
        lines.append(f"municipal node {node.node_id:<14} {node.url}   (docs {node.url}/docs; "
                     f"{', '.join(NAMES[t] + ' ' + t for t in node.tenants)})")
    lines += ["", "demo users (user  role  municipality: bearer token, valid 7 days)"]
    users = [(state, "operator", "state_operator", STATE_TENANT),
             (state, "officer-rps", "funding_officer", STATE_TENANT)]
    for node in municipal:
        for tenant in node.tenants:
            name = NAMES[tenant].lower()
            users += [(node, f"lead-{name}", "lead", tenant), (node, f"manager-{name}-1", "manager", tenant)]
    for node, sub, role, tenant in users:
        where = NAMES.get(tenant, "state")
        lines.append(f"  {sub:<22} {role:<16} {where:<11} {node.token(sub, role, [tenant])}")
    lines.append("")
    print("\n".join(lines), flush=True)
