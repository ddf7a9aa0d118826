"""The demo's node processes: started in their own session, dying with the demo, called over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from shared.auth import issue_dev_token
from shared.runtime.embedded import dies_with_parent
from shared.runtime.failures import OperatorError


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
        self.started_at = 0.0
        self.url = f"http://127.0.0.1:{port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.node_id}.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
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
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200 and self._answering_is_ours():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise OperatorError(f"node {self.node_id} not ready after {timeout:.0f}s (log: {self.log})")

    def _answering_is_ours(self) -> bool:
        """Ready is only ours if our process runs and wrote its node.json (its bus URL) since it started: another
        program on the port answers too, and the node.json of an earlier run names a server that is gone."""
        info = self.data_dir / "node.json"
        return (self.proc is not None and self.proc.poll() is None and info.is_file()
                and info.stat().st_mtime >= self.started_at - 1)

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
