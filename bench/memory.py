"""Resident memory of an idle all-in-one node, including its embedded Redis-compatible server.

Run: .venv/bin/python bench/memory.py   (bar: <= 250 MB in total, goal: <= 150 MB)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.runtime.embedded import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Child processes of every thread (the embedded server is started from a worker thread)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lotse-mem-"))
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
           "LOTSE_DATA_DIR": str(tmp / "node"), "LOTSE_HTTP_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "shared.runtime.cli", "node", "up"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ready(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("node did not become ready")
            time.sleep(0.2)
        time.sleep(10)  # idle
        node = rss_mb(proc.pid)
        server = sum(rss_mb(c) for c in children(proc.pid))
        print(f"idle all-in-one node: python {node:.0f} MB + embedded server {server:.0f} MB "
              f"= {node + server:.0f} MB  (bar <= 250 MB, goal <= 150 MB)")
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
