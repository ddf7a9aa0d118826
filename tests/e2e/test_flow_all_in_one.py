"""Issue flow in all-in-one mode: one process serves every service; they talk only over the bus."""

from __future__ import annotations

from pathlib import Path

from shared.runtime.embedded import EmbeddedServer
from tests.e2e.flow import assert_no_personal_data_on_streams, case_to_closed_plan, position_to_extension
from tests.nodes import STUTTGART, running_node


def test_full_flow_all_in_one(valkey: EmbeddedServer, tmp_path: Path) -> None:
    with running_node(tmp_path, valkey.url) as node:
        base = str(node.client.base_url)
        # route httpx through the in-process app: TestClient is an httpx.Client
        import tests.e2e.flow as flow

        original = flow.httpx.request
        flow.httpx.request = lambda method, url, **kw: node.client.request(  # type: ignore[assignment]
            method, url.replace(base, ""), **{k: v for k, v in kw.items() if k != "timeout"})
        try:
            manager = node.token("mia", "manager", tenants=[STUTTGART])
            lead = node.token("lena", "lead", tenants=[STUTTGART])
            plan = case_to_closed_plan(lambda _: base, manager, STUTTGART)
            assert plan["status"] == "closed"
            decided = position_to_extension(lambda _: base, lead, STUTTGART, valkey.url)
            assert decided["status"] == "approved"
        finally:
            flow.httpx.request = original
    assert assert_no_personal_data_on_streams(valkey.url) >= 8
