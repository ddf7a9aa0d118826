"""The annual figures with household members counselled alongside and plans agreed: submitted, summed at the state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from shared import clock
from shared.events.funding import KeyFiguresSubmitted
from tests.integration.test_funding_service import counts, funding_events, lead
from tests.integration.test_funding_state import as_, inbound, settled
from tests.integration.test_web_pages import sign_in
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

API = "/api/funding/v1"
LAST_YEAR = clock.today().year - 1
FIGURES: dict[str, Any] = {"consultations": 120, "minutes": 5400, "clients": 31, "by_topic": {"work": 40},
                           "by_mode": {"office": 120}, "goals": {"language": {"open": 6}}}


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding")


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def test_household_members_and_plans_agreed_go_up_and_small_ones_never_do(node: NodeHandle, redis: Redis) -> None:
    before = counts(node)
    for field in ("household_members", "plans_agreed"):
        for small in (1, 4):
            r = node.client.post(f"{API}/key-figures/{LAST_YEAR}/submit", headers=lead(node),
                                 json={**FIGURES, field: small})
            assert r.status_code == 422 and {d["field"].split(".")[0] for d in r.json()["detail"]} == {field}, r.text
    assert counts(node) == before
    r = node.client.post(f"{API}/key-figures/{LAST_YEAR}/submit", headers=lead(node),
                         json={**FIGURES, "household_members": 17, "plans_agreed": 0})
    assert r.status_code == 201, r.text
    assert (r.json()["figures"]["household_members"], r.json()["figures"]["plans_agreed"]) == (17, 0)
    (sent,) = eventually(lambda: [e for e in funding_events(redis) if e.type == "KeyFiguresSubmitted"])
    assert (sent.payload["household_members"], sent.payload["plans_agreed"]) == (17, 0)


def test_the_state_sums_them_and_counts_where_they_were_withheld(state: NodeHandle, redis: Redis) -> None:
    def submitted(tenant: str, **values: Any) -> None:
        payload = KeyFiguresSubmitted(year=LAST_YEAR, submitted_on=date(LAST_YEAR + 1, 1, 20), positions=1, fte=1.0,
                                      **{**FIGURES, **values})
        inbound(redis, payload, node=f"node-{tenant}", tenant=tenant, aggregate_id=f"{tenant}-{LAST_YEAR}")

    submitted(STUTTGART, household_members=17, plans_agreed=9)
    submitted(HEIDELBERG, household_members=None, plans_agreed=6)  # withheld (1-4) on its node
    eventually(lambda: settled(redis))
    r = state.client.get(f"{API}/key-figures", params={"year": LAST_YEAR}, headers=as_(state, "funding_officer"))
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    assert totals["household_members"] == {"value": 17, "withheld_in": 1}
    assert totals["plans_agreed"] == {"value": 15, "withheld_in": 0}
    officer = TestClient(state.client.app)
    sign_in(officer, "funding-officer")
    page = " ".join(officer.get(f"/state/key-figures?year={LAST_YEAR}").text.split())
    assert '<th scope="row">Mitberatene Haushaltsangehörige</th><td class="number">17</td>' in page
    assert '<th scope="row">Vereinbarte Integrationspläne</th><td class="number">15</td>' in page
