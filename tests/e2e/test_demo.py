"""The README's main command: `lotse demo` starts, links and seeds three nodes, then stops cleanly."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_seeds_three_linked_nodes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    from shared.runtime.embedded import free_port

    ports = ",".join(str(free_port()) for _ in range(3))
    result = subprocess.run([sys.executable, "-m", "shared.runtime.cli", "demo", "--base", str(tmp_path / "demo"),
                             "--seed-only", "--ports", ports], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Lotse demo is running." in out and "funding_officer" in out and "Mannheim" in out
    # the municipal nodes hold the cases; the state holds pseudonymous statistics and the register
    with closing(sqlite3.connect(tmp_path / "demo" / "rhein-neckar-it" / "cases.db")) as conn:
        tenants = dict(conn.execute("SELECT tenant, count(*) FROM cases_case GROUP BY tenant").fetchall())
    assert tenants == {"08221000": 8, "08222000": 8}
    with closing(sqlite3.connect(tmp_path / "demo" / "state" / "funding.db")) as conn:
        decided = conn.execute("SELECT count(*) FROM funding_state_application WHERE status = 'approved'")
        assert decided.fetchone()[0] == 1
    for log in (tmp_path / "demo").glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
