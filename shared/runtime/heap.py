"""Garbage collection in a node's long-running processes (the node, its federation ingest).

CPython frees almost every object by reference counting; its cyclic collector only looks for unreachable
cycles, but a full collection walks every object the process tracks, and with the defaults (700, 10, 10)
a busy process runs one every few hundred thousand allocations. A node tracks 120,000-300,000 objects from
start-up alone (modules, classes, pydantic's schemas, SQLAlchemy's metadata, FastAPI's routes), none of which
will ever be garbage. A consumer working through batches of 500 events spent 28 % of its time in the
collector (1.7 of 2.2 s for 100,000 events, 19 full collections of about 90 ms; `docs/benchmarks.md`).

So, once a process has started, `settle` collects once and then freezes what is there: those objects move
to CPython's permanent generation, which collections skip (they stay until the process ends, as they would
have anyway). And the youngest generation is collected after 10,000 new container objects instead of 700:
a batch's envelopes and rows (a few thousand objects, gone by reference counting when the batch is done)
no longer survive a collection in mid-batch only to be walked again by the older generations. Cycles are
still collected, a little later; the older generations keep their default multipliers.
"""

from __future__ import annotations

import gc

from prometheus_client import Gauge

YOUNG_THRESHOLD = 10_000  # new container objects before the youngest generation is collected (CPython: 700)
FROZEN = Gauge("lotse_gc_frozen_objects", "Objects from the process's start-up that garbage collection skips")


def settle() -> int:
    """Call once the process has started (its modules imported, app, pools and subscribers built); returns how
    many objects were frozen. Calling it again freezes what was added since."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    frozen = gc.get_freeze_count()
    FROZEN.set(frozen)
    return frozen
