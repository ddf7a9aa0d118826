"""The README's main command: `lotse demo` starts, links and seeds three nodes, then stops cleanly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from shared.runtime.embedded import free_port
from tests.integration.processes import LOTSE, ROOT, clean_env, lotse, processes_of


def cases_per_tenant(base: Path) -> dict[str, int]:
    with closing(sqlite3.connect(base / "rhein-neckar-it" / "cases.db")) as conn:
        return dict(conn.execute("SELECT tenant, count(*) FROM cases_case GROUP BY tenant").fetchall())


def live_demo(base: Path, ports: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `lotse demo` and read its output until the live activity begins."""
    proc = subprocess.Popen([*LOTSE, "demo", "--base", str(base), "--ports", ports], cwd=ROOT, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("live activity"):
            return proc, seen
    proc.wait(10)
    raise AssertionError("".join(seen))


def gone(base: Path, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while processes_of(base) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not processes_of(base)


def test_demo_seeds_three_linked_nodes_keeps_its_data_and_stops_them_on_every_signal(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    ports = ",".join(str(free_port()) for _ in range(3))
    seeded = lotse("demo", "--base", str(base), "--seed-only", "--ports", ports, timeout=240)
    assert seeded.returncode == 0, seeded.stdout[-3000:] + seeded.stderr[-3000:]
    out = seeded.stdout
    assert "Lotse demo is running." in out and "funding_officer" in out and "Mannheim" in out
    assert "demo users" in out and "manager-heidelberg-1" in out and "lead-stuttgart" in out
    assert "web app" in out and "node-admin-stuttgart" in out
    # the municipal nodes hold the cases; the state holds pseudonymous statistics and the register
    assert cases_per_tenant(base) == {"08221000": 8, "08222000": 8}
    with closing(sqlite3.connect(base / "state" / "funding.db")) as conn:
        decided = conn.execute("SELECT count(*) FROM funding_state_application WHERE status = 'approved'")
        assert decided.fetchone()[0] == 1
    for log in base.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert gone(base)
    for stop in (signal.SIGINT, signal.SIGTERM):
        proc, said = live_demo(base, ports)
        assert "keeping the existing demo data" in "".join(said) and "demo users" in "".join(said)
        proc.send_signal(stop)
        assert proc.wait(120) == 0, stop
        assert gone(base, timeout=5), f"nodes left after {stop!r}"
        assert cases_per_tenant(base) == {"08221000": 8, "08222000": 8}  # not seeded twice
    # killed outright, the demo still takes its nodes and their embedded servers along
    proc, _ = live_demo(base, ports)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert gone(base, timeout=60), "nodes outlived a killed demo"
    fresh = lotse("demo", "--base", str(base), "--seed-only", "--fresh", "--ports", ports, timeout=240)
    assert fresh.returncode == 0 and "seeding demo data" in fresh.stdout, fresh.stdout[-3000:]
    assert cases_per_tenant(base) == {"08221000": 8, "08222000": 8}
    assert gone(base)
