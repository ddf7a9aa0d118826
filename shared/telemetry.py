"""OpenTelemetry setup and trace-context propagation through event envelopes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

tracer = trace.get_tracer("lotse")
_configured = False


def setup_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    """Install a tracer provider once per process; export over OTLP/HTTP when an endpoint is set."""
    global _configured
    if _configured or isinstance(trace.get_tracer_provider(), TracerProvider):
        _configured = True
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def current_trace_context() -> dict[str, str]:
    """The active span's W3C trace context, ready for an envelope (empty when nothing is traced)."""
    if not trace.get_current_span().get_span_context().is_valid:  # nothing to propagate: skip the propagators
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def context_from(carrier: dict[str, Any] | None) -> otel_context.Context:
    """An OpenTelemetry context whose parent is the span described by an envelope's trace field."""
    return propagate.extract({k: v for k, v in (carrier or {}).items() if v})


@contextmanager
def hop_span(name: str, env: Any, kind: trace.SpanKind,
             attributes: dict[str, Any] | None = None) -> Iterator[Callable[[Any], Any]]:
    """A span for one hop of a traced envelope (the relay, the state's ingest), child of the envelope's trace.

    Yields a function giving the envelope with this span as its trace parent, so the next hop hangs under
    this one; an untraced envelope passes unchanged and makes no span.
    """
    if not env.trace.traceparent:
        yield lambda e: e
        return
    with tracer.start_as_current_span(name, context=context_from(env.trace.model_dump()), kind=kind,
                                      attributes={"messaging.message.id": env.event_id, **(attributes or {})}):
        carrier = current_trace_context()
        yield lambda e: e.model_copy(update={"trace": e.trace.model_copy(update=carrier)})


# FastAPI's own telemetry (spans per dependency, endpoint and serialisation) stays off in every app: the
# node's spans are the OpenTelemetry FastAPI instrumentation's, one per request.
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
