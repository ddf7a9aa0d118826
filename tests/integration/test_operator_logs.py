"""Logs an operator can use: one JSON object per line, an access line per request without personal data."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.runtime.logging import setup_logging
from tests.nodes import NodeHandle

API = "/api/cases/v1"
SECRET = "Quaxworthy"  # a name, a note, a search string: it must appear in no log line
CASE = {"given_name": f"{SECRET}-Given", "family_name": f"{SECRET}-Family", "birth_date": "1990-05-17",
        "nationality": "SYR", "languages": ["ar"], "household_size": 2, "accommodation_since": "2023-02-01"}
ACCESS_KEYS = {"timestamp", "level", "logger", "message", "method", "route", "status", "duration_ms", "trace_id"}


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything the node logs while the test runs, as the runtime writes it (JSON lines)."""
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    levels, buffer = (root.level, httpx.level), io.StringIO()
    handler = setup_logging(stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(levels[0])
    httpx.setLevel(levels[1])


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    parsed = []
    for number, line in enumerate(buffer.getvalue().splitlines(), start=1):
        record = json.loads(line)  # every line is one JSON object
        assert isinstance(record, dict), f"line {number} is not an object: {line}"
        assert {"timestamp", "level", "logger", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed


def test_every_line_is_json_and_the_access_log_names_routes_not_values(
        start_node: Callable[..., NodeHandle], log_text: io.StringIO) -> None:
    node = start_node("cases")
    as_ = node.headers("m1", "manager")
    made = node.client.post(f"{API}/cases", headers=as_, json=CASE)
    assert made.status_code == 201, made.text
    case_id = made.json()["id"]
    requests: list[tuple[str, str, int]] = [("POST", f"{API}/cases", 201)]

    def call(method: str, path: str, expected: int, **kw: Any) -> None:
        response = node.client.request(method, path, **kw)
        assert response.status_code == expected, response.text
        requests.append((method, path.split("?")[0], expected))

    call("GET", f"{API}/cases?limit=7&status=open&q={SECRET}", 200, headers=as_)
    call("GET", f"{API}/cases/{case_id}", 200, headers=as_)
    call("POST", f"{API}/cases", 422, headers=as_, json={**CASE, "household_size": SECRET})
    call("GET", f"{API}/cases/{case_id}?search={SECRET}", 401)
    call("GET", f"/no/such/{SECRET}", 404)
    call("GET", "/static/docs/events.css", 200)
    call("GET", "/healthz", 200)

    logged = lines(log_text)
    access = [r for r in logged if r["logger"] == "lotse.access"]
    assert [(r["method"], r["status"]) for r in access] == [(m, s) for m, _, s in requests]
    assert [r["route"] for r in access] == [
        f"{API}/cases", f"{API}/cases", f"{API}/cases/{{case_id}}", f"{API}/cases", f"{API}/cases/{{case_id}}",
        "unmatched", "/static/{path}", "/healthz"]
    for record in access:
        assert set(record) == ACCESS_KEYS, record
        assert record["message"] == "request" and record["level"] == "info"
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    traced = [r["trace_id"] for r in access if r["route"].startswith(API)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", t or "") for t in traced), traced
    assert len(set(traced)) == len(traced)  # one trace per request
    assert case_id not in json.dumps(access)  # the route template, never the path
    everything = log_text.getvalue()
    assert SECRET not in everything, [line for line in everything.splitlines() if SECRET in line]
