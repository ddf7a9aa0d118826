"""schemathesis against each level's OpenAPI document: whatever the document allows, no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.nodes import STUTTGART, NodeHandle

SERVICES = ("cases", "plans", "funding", "notifications", "federation")
EXAMPLES = 25  # per operation and caller: the whole run stays well under three minutes

# Callers whose roles reach past the role checks into every route of the level.
CALLERS = {
    "municipal": [("lead-1", ("lead",)), ("manager-1", ("manager",)), ("ops-1", ("node_admin",))],
    "state": [("officer-1", ("funding_officer",)), ("operator-1", ("state_operator",))],
}


def fuzz(node: NodeHandle, level: str) -> list[str]:
    """Every operation of the node's document, a bounded number of generated requests per caller."""
    # The document as the node serves it; requests go through the node's own client (its lifespan is running).
    schema = schemathesis.openapi.from_dict(node.client.get("/openapi.json").json())
    failures: list[str] = []
    for sub, roles in CALLERS[level]:
        headers = node.headers(sub, *roles, tenants=node.settings.tenants)
        for result in schema.get_all_operations():
            probe(node, result.ok(), sub, headers, failures)
    return failures


def probe(node: NodeHandle, operation: Any, sub: str, headers: dict[str, str], failures: list[str]) -> None:
    """Generated requests for one operation as one caller; a 5xx answer is recorded."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(node.client.base_url), headers=headers)
        kwargs.pop("verify", None)
        response = node.client.request(**kwargs)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} as {sub}: "
                            f"{response.status_code} {response.text[:200]}")

    run()


@pytest.mark.slow
def test_municipal_node_answers_no_server_error(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node(*SERVICES, tenants=[STUTTGART])
    assert fuzz(node, "municipal") == []


@pytest.mark.slow
def test_state_node_answers_no_server_error(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node(*SERVICES, level="state")
    assert fuzz(node, "state") == []
