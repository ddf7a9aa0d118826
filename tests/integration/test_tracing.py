"""One trace from an HTTP request through the outbox, Redis and a consumer span."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.bus import emit
from shared.runtime.embedded import EmbeddedServer
from tests.support import STREAM, BusPair, consultation, effects, wait_for


async def test_trace_id_travels_from_request_to_consumer(
    valkey: EmbeddedServer, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    bus = await BusPair(valkey.url, tmp_path).start()
    app = FastAPI()

    @app.post("/consultations")
    def record() -> dict[str, str]:
        with bus.producer.session() as s:
            env = emit(s, consultation(), stream=STREAM, tenant="08111000", node="test",
                       aggregate_id="case-1")
            s.commit()
        return {"event_id": env.event_id}

    FastAPIInstrumentor.instrument_app(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            event_id = (await c.post("/consultations")).json()["event_id"]
        await wait_for(lambda: effects(bus.consumer_db)[event_id] == 1)
        finished = spans.get_finished_spans()
        server = [s for s in finished if s.kind == SpanKind.SERVER]
        producer = [s for s in finished if s.kind == SpanKind.PRODUCER]
        consumer = await wait_for(lambda: [s for s in spans.get_finished_spans()
                                           if s.kind == SpanKind.CONSUMER])
        assert server and producer and consumer
        trace_id = server[0].context.trace_id
        assert producer[0].context.trace_id == trace_id
        assert consumer[0].context.trace_id == trace_id
        assert consumer[0].attributes["messaging.message.id"] == event_id
        assert consumer[0].parent is not None
    finally:
        await bus.stop()
