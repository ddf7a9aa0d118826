"""The node's logs: one JSON object per line on stderr, from every stdlib logger (ours, uvicorn's, libraries').

The library logs with `logging.getLogger(__name__)`; only the runtime decides how lines look.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from opentelemetry import trace

HANDLER_NAME = "lotse-json"
# For uvicorn.Config: leave logging to us (its records reach the JSON handler through the root logger)
# and write no access lines of its own: they carry the raw path and query; ours name the route only.
UVICORN_LOGGING: dict[str, Any] = {"log_config": None, "access_log": False}


def current_trace_id() -> str | None:
    span = trace.get_current_span().get_span_context()
    return format(span.trace_id, "032x") if span.is_valid else None


def add_trace_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current span's trace id, so a log line can be found from a trace and back."""
    if event.get("trace_id") is None:
        event["trace_id"] = current_trace_id()
    return event


def _leading(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """When, how bad, who and what first: easier to read in a terminal."""
    first: dict[str, Any] = {key: event.pop(key) for key in ("timestamp", "level", "logger", "message")
                             if key in event}
    return {**first, **event}


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    pre_chain: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),  # `extra=` fields (e.g. the access log's) become keys
        add_trace_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as one string (inside the line), without frame locals: they may hold names.
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            _leading,
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def setup_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send every record to `stream` (stderr) as one JSON line; calling it again replaces the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every outgoing request's URL, query included, at INFO: only its warnings are for us.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    return handler
