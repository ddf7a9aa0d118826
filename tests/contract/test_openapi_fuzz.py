"""schemathesis against each level's OpenAPI document with every check: no 5xx, no answer the document denies.

Positive cases (what the document allows) and negative ones (what it forbids) for every operation, as
callers whose roles reach past the role checks, against a node serving HTTP; every check schemathesis
has (`--checks all`) judges each answer: status code, content type, headers and body as documented,
invalid input refused, valid input accepted, a request without its token refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode

from shared.auth import issue_dev_token
from shared.federation.keys import STATE_TENANT
from shared.runtime.embedded import EmbeddedServer, free_port
from shared.settings import Settings
from tests.nodes import STUTTGART, node_settings, serving_node

SERVICES = ["cases", "plans", "funding", "notifications", "federation"]
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 6}  # per operation and caller: bounded
# What JSON Schema cannot say, the node checks and answers 422 for: dates and years relative to today
# or to another field, a cursor that is not one of the list's, a tenant the caller may not act for,
# the content of a CSV upload (`body`), a consent's partner (for one purpose only), a reason blank once trimmed.
INEXPRESSIBLE = {"birth_date", "held_on", "accommodation_since", "eligible_since", "closed_on", "target_date",
                 "starts_on", "ends_on", "decided_on", "occupied_since", "year", "cursor", "tenant", "body",
                 "given_on", "handed_on", "withdrawn_on", "partner", "reason"}
STRICT_INT = "Input should be a valid integer"

# Callers whose roles reach past the role checks into every route of the level.
CALLERS = {
    "municipal": [("lead-1", ("lead",)), ("manager-1", ("manager",)), ("ops-1", ("node_admin",))],
    "state": [("officer-1", ("funding_officer",)), ("operator-1", ("state_operator",))],
}


@pytest.fixture
def served(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[Any]:
    """Start a node serving HTTP on a free port; yields (its settings, its base URL)."""
    def start(**overrides: Any) -> tuple[Settings, str]:
        settings = node_settings(tmp_path, valkey.url, services=SERVICES, http_port=free_port(),
                                 rate_limit_burst=1_000_000, **overrides)
        contexts.append(serving_node(settings))
        return settings, contexts[-1].__enter__()

    contexts: list[Any] = []
    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def accepted_refusal(failure: BaseException, text: str) -> bool:
    """A 422 for schema-valid data naming only rules JSON Schema cannot express (INEXPRESSIBLE), or an
    integer written as `4.0`: JSON Schema counts it as an integer, the node's strict integers do not."""
    if type(failure).__name__ != "RejectedPositiveData":
        return False
    try:
        details = httpx.Response(422, text=text).json()["detail"]
        return bool(details) and all(str(d["field"]).split(".")[0] in INEXPRESSIBLE or d["reason"] == STRICT_INT
                                     for d in details)
    except (ValueError, KeyError, TypeError):
        return False


def fuzz(settings: Settings, base: str, level: str) -> list[str]:
    """Every operation of the node's document, a bounded number of generated requests per caller."""
    with httpx.Client(base_url=base, timeout=30) as client:
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        load_all_checks()
        failures: list[str] = []
        for sub, roles in CALLERS[level]:
            token = issue_dev_token(settings.data_dir, node_id=settings.node_id, node_tenants=settings.tenants,
                                    sub=sub, roles=list(roles), tenants=settings.tenants)
            headers = {"Authorization": f"Bearer {token}"}
            for result in schema.get_all_operations():
                for mode in EXAMPLES:
                    probe(client, base, result.ok(), mode, sub, headers, failures)
    return failures


def probe(client: httpx.Client, base: str, operation: Any, mode: GenerationMode, sub: str,
          headers: dict[str, str], failures: list[str]) -> None:
    """Generated requests for one operation as one caller; a 5xx or a failed check is recorded."""

    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # The caller's token replaces the generated one; a case without the header (negative) goes without.
        sent = headers if any(k.lower() == "authorization" for k in case.headers or {}) else {}
        kwargs = case.as_transport_kwargs(base_url=base, headers=sent)
        kwargs.pop("verify", None)
        response = client.request(**kwargs)
        where = f"{case.method} {case.formatted_path} ({mode}) as {sub}: {response.status_code} {response.text[:160]!r}"
        if response.status_code >= 500:
            failures.append(f"{where} {response.text[:200]}")
            return
        try:
            case.validate_response(response, checks=CHECKS.get_all(), headers=sent,
                                   transport_kwargs={"base_url": base})
        except (AssertionError, FailureGroup) as exc:  # one failure, or a group of them: each recorded
            failures.extend(f"{where} {' '.join(str(e).split())[:300]}" for e in getattr(exc, "exceptions", [exc])
                            if not accepted_refusal(e, response.text))

    run()


@pytest.mark.slow
def test_municipal_node_keeps_to_its_document(served: Any) -> None:
    settings, base = served(tenants=[STUTTGART])
    assert fuzz(settings, base, "municipal") == []


@pytest.mark.slow
def test_state_node_keeps_to_its_document(served: Any) -> None:
    settings, base = served(level="state", node_id="state", tenants=[STATE_TENANT])
    assert fuzz(settings, base, "state") == []
