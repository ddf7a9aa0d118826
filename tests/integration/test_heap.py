"""A started node sets its start-up heap aside from garbage collection (shared/runtime/heap.py), and garbage
made afterwards is still collected without anyone asking for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from shared.runtime.heap import YOUNG_THRESHOLD
from tests.integration.node_process import node_process
from tests.integration.processes import ROOT


def frozen_objects(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("lotse_gc_frozen_objects "):
            return float(line.split()[1])
    raise AssertionError("the node reports no lotse_gc_frozen_objects")


def test_a_started_node_sets_its_start_up_heap_aside(tmp_path: Path) -> None:
    with node_process(tmp_path / "node", LOTSE_SERVICES="cases") as (_, base):
        assert frozen_objects(base) > 50_000  # modules, schemas, routes: a node holds far more than a bare interpreter


def test_cycles_made_after_settling_are_still_collected_unasked() -> None:
    """Run apart: settling changes the collector of the whole process, which must not be this test run's."""
    script = textwrap.dedent(f"""
        import gc, weakref
        from shared.runtime import heap

        frozen = heap.settle()
        assert frozen > 1_000 and gc.get_freeze_count() == frozen, frozen
        assert gc.get_threshold()[0] == {YOUNG_THRESHOLD}, gc.get_threshold()

        class Node:
            pass

        def cycle():
            a, b = Node(), Node()
            a.other, b.other = b, a
            return weakref.ref(a)

        gone = [cycle() for _ in range(100)]
        assert all(ref() is not None for ref in gone)  # only the collector frees a cycle
        keep = [[] for _ in range({YOUNG_THRESHOLD} * 2)]  # new objects past the threshold, no gc.collect()
        assert all(ref() is None for ref in gone), sum(ref() is not None for ref in gone)
        print("ok", frozen)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
