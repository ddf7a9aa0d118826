"""Handler wrappers: batch handlers called per event, and the tenant filter on runs and single events."""

from __future__ import annotations

from typing import Any

from shared.bus import Batched, batched, for_tenants
from shared.events import Envelope

SERVED, FOREIGN = "08111000", "08221000"


def env(tenant: str) -> Envelope:
    return Envelope(type="ConsultationRecorded", version=1, tenant=tenant, node="n", aggregate_id="a", payload={})


def test_a_batch_handler_called_like_a_plain_one_gets_a_run_of_one() -> None:
    runs: list[list[Any]] = []
    handler = batched(lambda session, run: runs.append(run))
    one = env(SERVED)
    handler(None, one, "payload")  # type: ignore[arg-type]
    assert runs == [[(one, "payload")]]


def test_the_tenant_filter_keeps_a_run_to_the_served_tenants() -> None:
    runs: list[list[Any]] = []
    handler = for_tenants([SERVED])(batched(lambda session, run: runs.append(run)))
    assert isinstance(handler, Batched)  # still taken a run at a time by the consumer
    ours, theirs = env(SERVED), env(FOREIGN)
    handler.handle(None, [(ours, 1), (theirs, 2), (ours, 3)])  # type: ignore[arg-type]
    handler.handle(None, [(theirs, 4)])  # type: ignore[arg-type]
    assert runs == [[(ours, 1), (ours, 3)]]  # a run of foreign events calls nothing


def test_the_tenant_filter_on_a_plain_handler() -> None:
    seen: list[Any] = []
    handler = for_tenants([SERVED])(lambda session, e, payload: seen.append(payload))
    handler(None, env(SERVED), 1)  # type: ignore[arg-type]
    handler(None, env(FOREIGN), 2)  # type: ignore[arg-type]
    assert seen == [1]
