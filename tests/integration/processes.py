"""Run `lotse` as an operator would and find every process it left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOTSE = [sys.executable, "-m", "shared.runtime.cli"]


def clean_env(**settings: str) -> dict[str, str]:
    """The environment without the caller's LOTSE_* variables, plus these."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}, **settings}


def lotse(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
          timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOTSE, *args], capture_output=True, text=True, env=env or clean_env(),
                          cwd=cwd or ROOT, timeout=timeout)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_of(root: Path) -> list[int]:
    """Live processes working under `root`: by working directory (embedded servers chdir into their
    data dir and rename themselves), command line or environment (nodes get LOTSE_DATA_DIR)."""
    mark = str(root)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        stat = _read(proc / "stat")
        if not stat or stat.rsplit(")", 1)[-1].split()[0] == "Z":  # gone, or exited (a zombie)
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            cwd = ""
        if cwd.startswith(mark) or mark in _read(proc / "cmdline") or mark in _read(proc / "environ"):
            found.append(int(proc.name))
    return found


def children() -> list[int]:
    """This test process's live child processes."""
    me = str(os.getpid())
    out = []
    for proc in Path("/proc").iterdir():
        stat = _read(proc / "stat") if proc.name.isdigit() else ""
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == me and fields[0] != "Z":
            out.append(int(proc.name))
    return out


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lotse: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]
