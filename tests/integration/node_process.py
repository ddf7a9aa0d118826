"""A node started as an operator starts it (`lotse node up` in its own process), for tests that watch the process."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.processes import LOTSE, ROOT, clean_env


def rss_kib(pid: int) -> int:
    """The process's resident set size in KiB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


@contextmanager
def node_process(data_dir: Path, **settings: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`lotse node up` on a free port with its embedded server; yields the process and its base URL."""
    env = clean_env(LOTSE_DATA_DIR=str(data_dir), LOTSE_HTTP_PORT="0", **settings)
    proc = subprocess.Popen([*LOTSE, "node", "up"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base = ""
        for line in proc.stdout:
            if line.strip().startswith("API"):
                base = line.split()[1].split("/api/")[0]
            if "(embedded)" in line or line.strip().startswith("bus"):
                break
        assert base, "the node did not start"
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
