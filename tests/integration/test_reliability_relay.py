"""The federation relay after its own bus forgot everything, and one trace across two nodes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis as redis_sync
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import clock
from shared.events import STREAMS
from tests.e2e.test_federation_link import consultation_envelope, entries
from tests.integration.reliability import CASE, federated, restart_empty
from tests.nodes import eventually


def test_the_relay_declares_its_group_again_when_the_local_bus_forgot_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with federated(tmp_path, ["federation"], ["federation"], heartbeat_interval_s=0.2) as (_, _, state_srv, a_srv):
        local = redis_sync.Redis.from_url(a_srv.url)
        first = consultation_envelope("case-1")
        local.xadd(STREAMS["cases"], {"event": first.to_json()})
        eventually(lambda: len(entries(state_srv.url, STREAMS["cases"])) == 1)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="shared.federation.relay"):
            restart_empty(a_srv)
            second = consultation_envelope("case-2")
            eventually(lambda: _added(a_srv.url, second))
            got = eventually(lambda: (lambda e: e if len(e) == 2 else None)(
                entries(state_srv.url, STREAMS["cases"])), timeout=30)
        assert [e["event_id"] for _, e in got] == [first.event_id, second.event_id]
        assert any("lost group federation-up" in r.getMessage() for r in caplog.records)
        assert not any("state link down" in r.getMessage() for r in caplog.records)  # the state was fine
        local.close()


def _added(url: str, env) -> bool:
    """Append once the restarted server answers (the test's own client reconnects)."""
    try:
        redis_sync.Redis.from_url(url).xadd(STREAMS["cases"], {"event": env.to_json()})
        return True
    except redis_sync.ConnectionError:
        return False


def test_one_trace_from_a_municipal_request_to_the_state_read_model(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with federated(tmp_path, ["federation", "cases"], ["federation", "cases"]) as (state, node_a, _, _):
        manager = node_a.headers("m1", "manager")
        opened = node_a.client.post("/api/cases/v1/cases", json=CASE, headers=manager)
        assert opened.status_code == 201, opened.text
        consultation = {"held_on": clock.today().isoformat(), "duration_minutes": 30, "mode": "office",
                        "topics": ["language"]}
        route = "/api/cases/v1/cases/{case_id}/consultations"
        answer = node_a.client.post(route.format(case_id=opened.json()["id"]), json=consultation, headers=manager)
        assert answer.status_code == 201, answer.text
        server = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER
                  and s.attributes.get("http.route") == route]
        trace_id = server[0].context.trace_id
        # The state's read model of cases (group cases; the municipal cases service consumes nothing):
        at_state = eventually(lambda: [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER
                                       and s.name == "consume ConsultationRecorded" and s.context.trace_id == trace_id
                                       and s.attributes["messaging.consumer.group.name"] == "cases"], timeout=30)
        names = {s.name for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
        assert {"federation forward ConsultationRecorded", "federation ingest ConsultationRecorded"} <= names, names
        assert at_state[0].parent is not None
