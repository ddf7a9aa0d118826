"""Split mode: one process per service on one bus; a service killed mid-flow loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import issue_dev_token
from shared.runtime.embedded import EmbeddedServer, free_port
from tests.e2e.flow import assert_no_personal_data_on_streams, call, case_to_closed_plan, position_to_extension
from tests.nodes import HEIDELBERG, STUTTGART, eventually

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("cases", "plans", "funding", "notifications")


class Cluster:
    """The four services as separate `lotse node up --services X` processes."""

    def __init__(self, tmp: Path, redis_url: str) -> None:
        self.data_dir = tmp / "node"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
                    "LOTSE_NODE_ID": "split-node", "LOTSE_TENANTS": f"{STUTTGART},{HEIDELBERG}",
                    "LOTSE_DATA_DIR": str(self.data_dir), "LOTSE_REDIS_URL": redis_url,
                    "LOTSE_RECLAIM_IDLE_MS": "1000", "LOTSE_RECLAIM_INTERVAL_MS": "200",
                    "LOTSE_BLOCK_MS": "50", "LOTSE_OUTBOX_INTERVAL_MS": "20", "PYTHONPATH": str(ROOT)}
        self.ports = {s: free_port() for s in SERVICES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = tmp

    def start(self, service: str) -> None:
        log = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "shared.runtime.cli", "node", "up", "--services", service,
             "--port", str(self.ports[service])], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url(service) + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.procs[service].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.logs / f"{service}.log").read_text()[-3000:])
            time.sleep(0.1)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def token(self, sub: str, role: str, tenant: str) -> str:
        return issue_dev_token(self.data_dir, node_id="split-node", node_tenants=[STUTTGART, HEIDELBERG],
                               sub=sub, roles=[role], tenants=[tenant])

    def stop(self, service: str, sig: int = signal.SIGTERM) -> int:
        proc = self.procs.pop(service)
        proc.send_signal(sig)
        return proc.wait(60)


@pytest.fixture
def cluster(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, valkey.url)
    c.token("warmup", "lead", STUTTGART)  # the node's dev-token key exists before the processes start
    try:
        for service in SERVICES:
            c.start(service)
        yield c
    finally:
        for service in list(c.procs):
            c.stop(service, signal.SIGKILL)


def test_full_flow_split_mode(cluster: Cluster, valkey: EmbeddedServer) -> None:
    manager = cluster.token("mia", "manager", STUTTGART)
    lead = cluster.token("lena", "lead", STUTTGART)
    assert case_to_closed_plan(cluster.url, manager, STUTTGART)["status"] == "closed"
    assert position_to_extension(cluster.url, lead, STUTTGART, valkey.url)["status"] == "approved"
    assert assert_no_personal_data_on_streams(valkey.url) >= 8
    for service in list(cluster.procs):
        # uvicorn re-raises SIGTERM after its graceful shutdown: -15 is a clean stop here
        assert cluster.stop(service) in (0, -signal.SIGTERM)
        log = (cluster.logs / f"{service}.log").read_text()
        assert "Traceback" not in log, log[-3000:]


def test_service_killed_mid_flow_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    manager = cluster.token("mia", "manager", HEIDELBERG)
    cases_url = cluster.url("cases") + "/api/cases/v1/cases"
    body = {"given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "nationality": "AFG",
            "languages": ["fa"], "household_size": 2, "accommodation_since": "2025-01-01",
            "tenant": HEIDELBERG}
    opened = [call("POST", cases_url, manager, body).json()["id"] for _ in range(15)]
    cluster.stop("plans", signal.SIGKILL)  # mid-flow: some CaseOpened may be fetched, not acked
    opened += [call("POST", cases_url, manager, body).json()["id"] for _ in range(15)]
    cluster.stop("cases", signal.SIGKILL)  # its outbox may hold unpublished events
    cluster.start("cases")
    cluster.start("plans")
    plans = cluster.url("plans") + "/api/plans/v1/plans"

    def plan_of(case_id: str) -> dict | None:
        r = call("GET", f"{plans}?case_id={case_id}", manager)
        return r.json() if r.status_code == 200 else None

    found = {case_id: eventually(lambda c=case_id: plan_of(c), timeout=30) for case_id in opened}
    assert len({p["id"] for p in found.values()}) == 30  # one plan per case, none twice
    assert all(p["version"] == 1 for p in found.values())
