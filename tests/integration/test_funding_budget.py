"""The state's funding years and allocation over HTTP: who may set them, bad input, what goes down."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from services.funding.state.models import FundingAllocationKey, FundingStateYear
from shared.bus import OutboxEvent
from shared.federation.keys import DOWN_ALL
from tests.nodes import NodeHandle, eventually

API = "/api/funding/v1"
YEAR = {"year": 2027, "budget_eur": 48_000_000, "rates_eur": {"vocational": 51_000, "academic": 60_000}}


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def officer(state: NodeHandle) -> dict[str, str]:
    return state.headers("otto", "funding_officer")


def counts(state: NodeHandle) -> tuple[int, int, int]:
    with state.node.contexts["funding"].database.session() as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one()  # type: ignore[return-value]
                     for t in (FundingStateYear, FundingAllocationKey, OutboxEvent))


def test_an_officer_sets_a_year_that_goes_down_to_every_node(state: NodeHandle, redis: Redis) -> None:
    operator = state.headers("olga", "state_operator")
    assert state.client.post(f"{API}/years", json=YEAR, headers=operator).status_code == 403
    r = state.client.post(f"{API}/years", json=YEAR, headers=officer(state))
    assert r.status_code == 201 and r.json() == YEAR
    assert state.client.get(f"{API}/years/2027", headers=operator).json() == YEAR
    assert state.client.get(f"{API}/years/2028", headers=operator).status_code == 404
    (entry,) = eventually(lambda: redis.xrange(DOWN_ALL))
    env = json.loads(entry[1][b"event"])
    assert (env["type"], env["target_node"], env["tenant"], env["payload"]) == (
        "FundingYearSet", "*", "08000000", YEAR)


@pytest.mark.parametrize(("body", "field"), [
    ({**YEAR, "year": 1999}, "year"), ({**YEAR, "budget_eur": -1}, "budget_eur"),
    ({**YEAR, "budget_eur": 1.5}, "budget_eur"), ({**YEAR, "rates_eur": {"vocational": 51_000}}, "rates_eur"),
    ({**YEAR, "rates_eur": {**YEAR["rates_eur"], "master": 1}}, "rates_eur"),
    ({**YEAR, "rates_eur": {**YEAR["rates_eur"], "academic": 0}}, "rates_eur"),
])
def test_a_bad_year_is_refused_naming_the_field(state: NodeHandle, body: dict[str, Any], field: str) -> None:
    before = counts(state)
    r = state.client.post(f"{API}/years", json=body, headers=officer(state))
    assert r.status_code == 422 and field in {d["field"].split(".")[0] for d in r.json()["detail"]}, r.text
    assert counts(state) == before


def test_allocation_keys_by_json_or_csv_and_bad_ones_refused(state: NodeHandle) -> None:
    url = f"{API}/years/2027/allocation"
    assert state.client.put(url, json={"keys": {"08111": 1.0}}, headers=officer(state)).status_code == 404
    assert state.client.post(f"{API}/years", json=YEAR, headers=officer(state)).status_code == 201
    r = state.client.put(url, json={"keys": {"08111": 1.0, "08221": 3.0}}, headers=officer(state))
    assert r.status_code == 200, r.text
    assert {d["district"]: d["allocation_eur"] for d in r.json()["districts"]} == {
        "08111": 12_000_000.0, "08221": 36_000_000.0}
    before = counts(state)
    csv_headers = {**officer(state), "Content-Type": "text/csv"}
    for content, headers, field in [
        (json.dumps({"keys": {"8111": 1.0}}), {**officer(state), "Content-Type": "application/json"}, "keys"),
        (json.dumps({"keys": {"08111": -1}}), {**officer(state), "Content-Type": "application/json"}, "keys"),
        (json.dumps({"keys": []}), {**officer(state), "Content-Type": "application/json"}, "keys"),
        ("{not json", {**officer(state), "Content-Type": "application/json"}, "body"),
        ("Kreis;Anteil\n08111;viel\n", csv_headers, "body"),
        ("08111;1;2\n", csv_headers, "body"),
        (b"\xff\xfe08111;1", csv_headers, "body"),
    ]:
        r = state.client.put(url, content=content, headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, (content, r.text)
    assert counts(state) == before
    r = state.client.put(url, content="Kreis;Anteil\n08111;1,5\n", headers=csv_headers)
    assert r.status_code == 200 and r.json()["districts"][0]["allocation_eur"] == 48_000_000.0
    operator = state.headers("olga", "state_operator")
    assert state.client.put(url, content="08111;1", headers={**operator, "Content-Type": "text/csv"}
                            ).status_code == 403
    assert state.client.get(url, headers=operator).json()["budget_eur"] == 48_000_000
