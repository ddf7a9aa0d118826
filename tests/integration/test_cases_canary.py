"""Canary scan on both levels: casework (opening with household, edit, extension, hand-over, search) puts no
name, birth date, justification or search term in any key, stream entry or AOF of the municipal or state server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from sqlmodel import select

from services.cases.state.models import StateCase
from shared.runtime.embedded import EmbeddedServer
from tests.e2e.test_federation_link import register_node, server
from tests.integration.test_cases_service import everything_in_redis
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART = "08111000"
API = "/api/cases/v1"
CANARIES = ("Xylofon-Canary", "Quarzit-Canary", "1983-07-19", "19.07.1983", "Justify-Canary-Text",
            "Renamed-Canary", "Note-Canary-Text", "birth_year")


@pytest.fixture
def levels(tmp_path: Path) -> Iterator[tuple[NodeHandle, NodeHandle, EmbeddedServer, EmbeddedServer]]:
    state_srv, muni_srv = server(tmp_path, "state-redis"), server(tmp_path, "muni-redis")
    try:
        with running_node(tmp_path, state_srv.url, node_id="state", level="state", tenants=["08000000"],
                          data_dir=tmp_path / "state") as state:
            link = register_node(state, state_srv.url, "node-a", [STUTTGART], tmp_path / "node-a")
            with running_node(tmp_path, muni_srv.url, node_id="node-a", tenants=[STUTTGART],
                              data_dir=tmp_path / "node-a", state_redis_url=link) as muni:
                yield muni, state, muni_srv, state_srv
    finally:
        state_srv.stop()
        muni_srv.stop()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_casework_leaves_no_personal_data_on_either_level(
        levels: tuple[NodeHandle, NodeHandle, EmbeddedServer, EmbeddedServer]) -> None:
    muni, state, muni_srv, state_srv = levels
    m1, lead = muni.headers("m1", "manager", tenants=[STUTTGART]), muni.headers("l1", "lead", tenants=[STUTTGART])
    case = ok(muni.client.post(f"{API}/cases", headers=m1, json={
        "given_name": "Xylofon-Canary", "family_name": "Quarzit-Canary", "birth_date": "1983-07-19",
        "nationality": "UKR", "languages": ["uk"], "household_size": 3, "eligibility": "temporary_protection_ukraine",
        "eligible_since": "2022-05-02", "household_members": [{"relation": "child", "birth_year": 2011},
                                                              {"relation": "partner"}]}), 201)
    cid = case["id"]
    ok(muni.client.post(f"{API}/cases/{cid}/consultations", headers=m1, json={
        "held_on": "2023-01-10", "duration_minutes": 40, "mode": "office", "topics": ["residence"],
        "note": "Note-Canary-Text"}), 201)
    ok(muni.client.patch(f"{API}/cases/{cid}", headers=m1, json={"family_name": "Renamed-Canary"}))
    ok(muni.client.post(f"{API}/cases/{cid}/counselling-extension", headers=lead,
                        json={"justification": "Justify-Canary-Text"}))
    ok(muni.client.get(f"{API}/cases", headers=lead, params={"q": "Xylofon-Canary"}))
    ok(muni.client.get(f"{API}/cases", headers=lead, params={"q": "19.07.1983"}))
    ok(muni.client.post(f"{API}/cases/{cid}/reassign", headers=lead, json={"manager": "m2"}))

    def arrived() -> StateCase | None:
        with state.node.contexts["cases"].database.session() as s:
            row = s.exec(select(StateCase).where(StateCase.tenant == STUTTGART)).first()
            return row if row is not None and row.counselling_extended_on is not None else None

    known = eventually(arrived, timeout=30)
    # the state counts the eligibility basis and the household members, by a pseudonym only
    assert (known.eligibility, known.household_members, len(known.client)) == ("temporary_protection_ukraine", 2, 64)
    assert known.client != cid

    for name, srv in (("municipal", muni_srv), ("state", state_srv)):
        client = redis_sync.Redis.from_url(srv.url)
        try:
            held = b"\n".join(everything_in_redis(client))
        finally:
            client.close()
        assert b"CounsellingExtended" in held, name  # the scan sees the events
        assert (cid.encode() in held) == (name == "municipal")  # the state knows the case by its pseudonym
        aof = b"\n".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
        for canary in CANARIES:
            assert canary.encode() not in held, (name, canary)
            assert canary.encode() not in aof, (name, canary)
