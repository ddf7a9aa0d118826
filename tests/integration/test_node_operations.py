"""The node's operations API for node_admin: status, dead letters and their replay, and no case contents."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis import Redis

from shared import VERSION, clock
from shared.events import DEAD_LETTERS, STREAMS, Contract, envelope_for
from shared.events.cases import CaseOpened, ConsultationRecorded
from shared.events.codes import Mode, Topic
from shared.federation import registry
from shared.federation.keys import inbound_stream
from shared.runtime import operations
from shared.runtime.embedded import EmbeddedServer
from tests.nodes import STUTTGART, NodeHandle, eventually

OPS = "/api/node/v1"
CANARY = "Zzyzxquokka"  # a client's name: it must never reach a node_admin
HELD_ON = clock.today() - timedelta(days=1)
LATE = "case-opened-late"


def admin(node: NodeHandle) -> dict[str, str]:
    return node.headers("ops-1", "node_admin", tenants=[STUTTGART])


def envelope(payload: Contract, aggregate_id: str) -> dict[str, Any]:
    return envelope_for(payload, tenant=STUTTGART, node="test-node", aggregate_id=aggregate_id).model_dump(mode="json")


def put(redis: Redis, event: dict[str, Any] | str) -> None:
    """Append an entry to the cases stream as if the cases service had (or a broken producer)."""
    redis.xadd(STREAMS["cases"], {"event": event if isinstance(event, str) else json.dumps(event)})


def letters(node: NodeHandle, **params: Any) -> dict[str, Any]:
    r = node.client.get(f"{OPS}/dead-letters", params=params, headers=admin(node))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    # two deliveries: a failing handler is dead-lettered within about a second
    return start_node("cases", "plans", max_deliveries=2)


def test_dead_letters_are_listed_paged_and_replayed_without_case_contents(node: NodeHandle, redis: Redis) -> None:
    answers: list[str] = []  # every node-operations answer, searched for the canary at the end
    manager = node.headers("m1", "manager", tenants=[STUTTGART])
    r = node.client.post("/api/cases/v1/cases", headers=manager, json={
        "given_name": CANARY, "family_name": CANARY, "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "accommodation_since": "2023-02-01"})
    assert r.status_code == 201
    # poison: an envelope that is no JSON, and a CaseOpened whose payload quotes the name
    put(redis, "{not json " + CANARY)
    opened = envelope(CaseOpened(case_id="case-x", manager="m1", opened_on=HELD_ON, household_size=2), "case-x")
    opened["payload"]["household_size"] = CANARY
    put(redis, opened)
    # a failing handler: a consultation of a case whose plan does not exist (yet)
    consultation = envelope(ConsultationRecorded(case_id=LATE, manager="m1", held_on=HELD_ON, duration_minutes=30,
                                                 mode=Mode.office, topics=[Topic.work]), LATE)
    put(redis, consultation)
    eventually(lambda: redis.xlen(DEAD_LETTERS) == 3)
    assert CANARY.encode() in b"".join(v for _, f in redis.xrange(DEAD_LETTERS) for v in f.values())

    page = letters(node)
    answers.append(json.dumps(page))
    assert (page["total"], page["next_cursor"]) == (3, None)
    envelope_error, payload_error, failed = page["items"]
    assert set(failed) == {"id", "stream", "group", "event_type", "event_id", "error", "deliveries", "failed_at"}
    assert (failed["stream"], failed["group"], failed["event_type"], failed["event_id"], failed["deliveries"]) == (
        STREAMS["cases"], "plans", "ConsultationRecorded", consultation["event_id"], 2)
    assert failed["error"].startswith("PlanNotYetKnown: no plan for case") and failed["failed_at"]
    assert (envelope_error["event_type"], envelope_error["event_id"]) == (None, None)
    assert envelope_error["error"].startswith("malformed envelope")
    assert "input_value=(withheld)" in envelope_error["error"]
    assert (payload_error["event_type"], payload_error["event_id"]) == ("CaseOpened", opened["event_id"])
    assert "household_size" in payload_error["error"] and "input_value=(withheld)" in payload_error["error"]
    # pages, oldest first
    first = letters(node, limit=2)
    second = letters(node, limit=2, cursor=first["next_cursor"])
    answers += [json.dumps(first), json.dumps(second)]
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in page["items"]]
    assert (first["next_cursor"], second["next_cursor"]) == (first["items"][-1]["id"], None)

    # the case's opening arrives late; the replayed consultation then reaches its plan
    put(redis, envelope(CaseOpened(case_id=LATE, manager="m1", opened_on=HELD_ON, household_size=2), LATE))
    plan_url = f"/api/plans/v1/plans?case_id={LATE}"
    eventually(lambda: node.client.get(plan_url, headers=manager).status_code == 200)
    r = node.client.post(f"{OPS}/dead-letters/{failed['id']}/replay", headers=admin(node))
    assert r.status_code == 200, r.text
    answers.append(r.text)
    assert r.json()["id"] == failed["id"] and r.json()["replayed_as"]
    eventually(lambda: node.client.get(plan_url, headers=manager).json()["last_contact_on"] == HELD_ON.isoformat())
    assert [i["id"] for i in letters(node)["items"]] == [envelope_error["id"], payload_error["id"]]
    # replayed once: the same id again is unknown
    r = node.client.post(f"{OPS}/dead-letters/{failed['id']}/replay", headers=admin(node))
    assert (r.status_code, r.json()) == (404, {"detail": "dead letter not found"})

    status = node.client.get(f"{OPS}/status", headers=admin(node))
    answers.append(status.text)
    assert status.status_code == 200 and status.json()["dead_letters"] == 2
    for text in answers:
        assert CANARY not in text and "Haddad" not in text


def test_status_shows_services_groups_backlogs_and_versions(node: NodeHandle, redis: Redis) -> None:
    r = node.client.post("/api/cases/v1/cases", headers=node.headers("m1", "manager", tenants=[STUTTGART]), json={
        "given_name": "A", "family_name": "B", "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": [], "household_size": 1, "accommodation_since": "2023-02-01"})
    assert r.status_code == 201

    def settled() -> dict[str, Any] | None:
        answer = node.client.get(f"{OPS}/status", headers=admin(node)).json()
        groups = {g["name"]: g for s in answer["streams"] for g in s["groups"] if s["name"] == STREAMS["cases"]}
        plans = groups.get("plans")
        return answer if plans and plans["pending"] == 0 and plans["lag"] == 0 and answer["outbox_backlog"] == 0 \
            else None

    answer = eventually(settled)
    assert (answer["node_id"], answer["level"], answer["tenants"]) == ("test-node", "municipal", node.settings.tenants)
    assert answer["services"] == [
        {"name": "cases", "level": "municipal", "stream": STREAMS["cases"], "groups": ["cases"], "outbox_backlog": 0},
        {"name": "plans", "level": "municipal", "stream": STREAMS["plans"], "groups": ["plans"], "outbox_backlog": 0}]
    cases = next(s for s in answer["streams"] if s["name"] == STREAMS["cases"])
    plans_group = next(g for g in cases["groups"] if g["name"] == "plans")
    assert cases["length"] >= 1 and plans_group["consumers"] >= 1
    assert plans_group["last_delivered_id"] == redis.xrevrange(STREAMS["cases"], count=1)[0][0].decode()
    assert answer["dead_letters"] == 0
    assert answer["federation"] == {"level": "municipal", "configured": False, "link_up": None,
                                    "last_heartbeat_sent_at": None, "relay_lag": None,
                                    "registered_nodes": None, "silent_nodes": None}
    versions = answer["versions"]
    assert (versions["lotse"], versions["python"]) == (VERSION, platform.python_version())
    assert versions["redis_server"] and versions["redis_server_name"] in ("redis", "valkey")


def test_the_municipal_link_shows_relay_lag_and_the_last_heartbeat(
    start_node: Callable[..., NodeHandle], valkey: EmbeddedServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the node's own Redis stands in for the state's: the relay appends to this node's inbound stream
    node = start_node("cases", "federation", state_redis_url=valkey.url, heartbeat_interval_s=0.1)
    sent_at = datetime(2026, 3, 1, 12, 0, 0).astimezone()
    metric = operations.REGISTRY.get_sample_value
    monkeypatch.setattr(operations.REGISTRY, "get_sample_value", lambda name, *a: (
        sent_at.timestamp() if name == operations.HEARTBEAT_SENT else metric(name, *a)))

    def linked() -> dict[str, Any] | None:
        answer = node.client.get(f"{OPS}/status", headers=admin(node)).json()
        return answer if answer["federation"]["relay_lag"] == 0 and answer["federation"]["link_up"] else None

    federation = eventually(linked)["federation"]
    assert federation["configured"] is True
    assert datetime.fromisoformat(federation["last_heartbeat_sent_at"]) == sent_at
    streams = [s["name"] for s in node.client.get(f"{OPS}/status", headers=admin(node)).json()["streams"]]
    assert inbound_stream("test-node") in streams


def test_the_state_node_counts_its_registered_nodes(start_node: Callable[..., NodeHandle]) -> None:
    state = start_node("federation", level="state")
    with state.node.contexts["federation"].database.session() as s:
        registry.register(s, node_id="node-a", tenants=[STUTTGART], public_key="A" * 43 + "=")
        s.commit()
    headers = state.headers("ops-1", "node_admin", tenants=state.settings.tenants)
    answer = state.client.get(f"{OPS}/status", headers=headers).json()
    assert (answer["level"], answer["services"][0]["name"]) == ("state", "federation")
    assert answer["federation"] == {"level": "state", "configured": True, "link_up": None,
                                    "last_heartbeat_sent_at": None, "relay_lag": None,
                                    "registered_nodes": 1, "silent_nodes": 0}


def test_only_a_node_admin_and_bad_ids(node: NodeHandle) -> None:
    calls = [("GET", f"{OPS}/status"), ("GET", f"{OPS}/dead-letters"), ("POST", f"{OPS}/dead-letters/1-0/replay")]
    for method, url in calls:
        assert node.client.request(method, url).status_code == 401
        for role in ("manager", "lead", "state_operator", "funding_officer"):
            r = node.client.request(method, url, headers=node.headers("x1", role, tenants=[STUTTGART]))
            assert r.status_code == 403, (url, role)
    for unknown in ("1-0", "99999999999999999999-99999999999999999999"):
        r = node.client.post(f"{OPS}/dead-letters/{unknown}/replay", headers=admin(node))
        assert (r.status_code, r.json()) == (404, {"detail": "dead letter not found"}), unknown
    r = node.client.post(f"{OPS}/dead-letters/not-an-id/replay", headers=admin(node))
    assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == ["dead_letter_id"]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "x"}):
        r = node.client.get(f"{OPS}/dead-letters", params=params, headers=admin(node))
        assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == list(params)
    # a cursor past what a stream id can hold: an empty page, not an error
    assert letters(node, cursor="99999999999999999999-0")["items"] == []


def test_the_operations_answers_are_documented(node: NodeHandle) -> None:
    paths = node.client.get("/openapi.json").json()["paths"]
    for path, method, model in [("/status", "get", "NodeHealth"), ("/dead-letters", "get", "DeadLetterPage"),
                                ("/dead-letters/{dead_letter_id}/replay", "post", "Replayed")]:
        schema = paths[OPS + path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}, path
