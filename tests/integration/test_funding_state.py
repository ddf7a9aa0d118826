"""The funding service at state level: the statewide register, applications and decisions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from services.funding.state.models import FundingStateApplication, FundingStatePosition
from services.funding.terms import add_months
from shared import clock
from shared.bus import OutboxEvent
from shared.events import DEAD_LETTERS, STREAMS, Contract, Envelope, new_event_id
from shared.events.codes import PositionStatus
from shared.events.funding import ExtensionApplied, ExtensionKind, PositionOccupancyChanged, PositionRegistered
from shared.federation.keys import DOWN_ALL, down_stream
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

API = "/api/funding/v1"
TODAY = clock.today()
STARTS = date(TODAY.year - 1, 1, 1)
ENDS = date(TODAY.year + 1, 8, 31)
MB = "x" * 1_000_000
BIG = "x" * 60_000  # a long value in a body the node still accepts (64 KiB), refused by its field
JUSTIFICATION = "Die Stelle ist seit drei Jahren besetzt; der Bedarf besteht fort."


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def inbound(redis: Redis, payload: Contract, *, node: str, tenant: str,
            aggregate_id: str | None = None) -> Envelope:
    """An event as the federation link republishes it on the state bus: its state projection."""
    projection = payload.state_projection(lambda s: hashlib.sha256(s.encode()).hexdigest())
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant, node=node,
                   aggregate_id=aggregate_id or payload.position_id,  # type: ignore[attr-defined]
                   scope=payload.scope, payload=projection)
    redis.xadd(STREAMS["funding"], {"event": env.to_json()})
    return env


def registered(position_id: str, fte: float, ends_on: date = ENDS) -> PositionRegistered:
    return PositionRegistered(position_id=position_id, fte=fte, starts_on=STARTS,
                              ends_on=ends_on, status=PositionStatus.approved)


def occupancy(position_id: str, occupied: bool, since: date) -> PositionOccupancyChanged:
    return PositionOccupancyChanged(position_id=position_id, occupied=occupied, since=since,
                                    status=PositionStatus.occupied if occupied else PositionStatus.vacant)


def applied(application_id: str, position_id: str, ends_on: date = ENDS, **v2: Any) -> ExtensionApplied:
    return ExtensionApplied(application_id=application_id, position_id=position_id,
                            applied_on=TODAY, current_ends_on=ends_on,
                            requested_ends_on=add_months(ends_on, 24), **v2)


def settled(redis: Redis) -> bool:
    """The funding group has read and acknowledged everything on the funding stream."""
    groups = redis.xinfo_groups(STREAMS["funding"])
    group = next((g for g in groups if g["name"] == b"funding"), None)
    return group is not None and group["lag"] == 0 and group["pending"] == 0


def as_(state: NodeHandle, role: str) -> dict[str, str]:
    return state.headers(f"{role}-1", role)


def get(state: NodeHandle, path: str, role: str = "state_operator") -> Any:
    r = state.client.get(f"{API}{path}", headers=as_(state, role))
    assert r.status_code == 200, r.text
    return r.json()


def decide(state: NodeHandle, application_id: str, body: Any,
           role: str = "funding_officer") -> Any:
    return state.client.post(f"{API}/extension-applications/{application_id}/decision",
                             json=body, headers=as_(state, role))


def counts(state: NodeHandle) -> tuple[int, int, int, int]:
    """Register rows, applications, decided applications, outbox rows."""
    with state.node.contexts["funding"].database.session() as s:
        n = lambda q: int(s.exec(q).one())  # type: ignore[call-overload]  # noqa: E731
        return (n(select(func.count()).select_from(FundingStatePosition)),
                n(select(func.count()).select_from(FundingStateApplication)),
                n(select(func.count()).select_from(FundingStateApplication).where(
                    FundingStateApplication.status != "submitted")),
                n(select(func.count()).select_from(OutboxEvent)))


def stream_events(redis: Redis, stream: str) -> list[Envelope]:
    entries: list[Any] = redis.xrange(stream)  # type: ignore[assignment]
    return [Envelope.model_validate_json(f[b"event"]) for _, f in entries]


def two_applications(redis: Redis) -> tuple[str, str]:
    """Node a (Stuttgart) and node b (Heidelberg) each register a position and apply."""
    app_a, app_b = new_event_id(), new_event_id()
    inbound(redis, registered("pos-a", 0.5), node="node-a", tenant=STUTTGART)
    inbound(redis, applied(app_a, "pos-a", justification=JUSTIFICATION), node="node-a", tenant=STUTTGART)
    inbound(redis, registered("pos-b", 1.0), node="node-b", tenant=HEIDELBERG)
    inbound(redis, applied(app_b, "pos-b"), node="node-b", tenant=HEIDELBERG)  # as a node before v2 sends it
    eventually(lambda: settled(redis))
    return app_a, app_b


# -- the register -----------------------------------------------------------------------------
def test_register_and_totals_from_two_nodes(state: NodeHandle, redis: Redis) -> None:
    a = lambda p: inbound(redis, p, node="node-a", tenant=STUTTGART)  # noqa: E731
    b = lambda p: inbound(redis, p, node="node-b", tenant=HEIDELBERG)  # noqa: E731
    a(registered("p1", 0.5))
    a(registered("p2", 1.0))
    a(occupancy("p2", True, STARTS))
    a(registered("p3", 0.3))
    a(occupancy("p3", True, STARTS + timedelta(days=10)))
    a(occupancy("p3", False, TODAY))
    b(registered("p1", 0.8))  # the same id on another node is another position
    b(occupancy("p1", True, STARTS))
    b(registered("old", 0.2, ends_on=TODAY - timedelta(days=1)))  # ended: listed, not counted
    b(occupancy("p5", True, STARTS))  # overtook its registration: retried until it is known
    b(registered("p5", 0.4))
    duplicate = a(registered("p1", 0.9))  # a second registration of a known position: no change
    redis.xadd(STREAMS["funding"], {"event": duplicate.to_json()})
    eventually(lambda: settled(redis) and get(state, "/positions")["totals"][-1]["positions"] == 2)

    register = get(state, "/positions")
    items = {(p["node"], p["position_id"]): p for p in register["items"]}
    assert len(items) == 6
    assert items["node-a", "p1"] == {
        "node": "node-a", "position_id": "p1", "tenant": STUTTGART, "fte": 0.5, "qualification": "vocational",
        "status": "approved", "status_since": None, "starts_on": STARTS.isoformat(),
        "ends_on": ENDS.isoformat(), "ended": False}
    assert (items["node-a", "p3"]["status"], items["node-a", "p3"]["status_since"]) == (
        "vacant", TODAY.isoformat())
    assert (items["node-b", "p1"]["fte"], items["node-b", "p1"]["status"]) == (0.8, "occupied")
    assert items["node-b", "p5"]["status"] == "occupied"
    assert items["node-b", "old"]["ended"] is True
    assert [p["tenant"] for p in register["items"]] == [STUTTGART] * 3 + [HEIDELBERG] * 3
    assert register["totals"] == [
        {"tenant": STUTTGART, "positions": 3, "total_fte": 1.8, "approved_fte": 0.5,
         "occupied_fte": 1.0, "vacant_fte": 0.3},
        {"tenant": HEIDELBERG, "positions": 2, "total_fte": 1.2, "approved_fte": 0.0,
         "occupied_fte": 1.2, "vacant_fte": 0.0},
    ]
    only = get(state, f"/positions?tenant={HEIDELBERG}")
    assert {p["tenant"] for p in only["items"]} == {HEIDELBERG}
    assert [t["tenant"] for t in only["totals"]] == [HEIDELBERG]
    assert get(state, "/positions?tenant=08222000", "funding_officer") == {"items": [],
                                                                          "totals": []}
    assert redis.xlen(DEAD_LETTERS) == 0


# -- applications and decisions ---------------------------------------------------------------
def test_applications_from_two_nodes_and_decisions(state: NodeHandle, redis: Redis) -> None:
    app_a, app_b = two_applications(redis)
    # the same application again (a new envelope): still one copy
    inbound(redis, applied(app_a, "pos-a"), node="node-a", tenant=STUTTGART)
    eventually(lambda: settled(redis))
    submitted = get(state, "/extension-applications?status=submitted")
    assert [a["id"] for a in submitted] == sorted([app_a, app_b])
    first = get(state, f"/extension-applications/{app_a}", "funding_officer")
    assert first == {
        "id": app_a, "node": "node-a", "tenant": STUTTGART, "position_id": "pos-a",
        "status": "submitted", "kind": "extension_24_months", "applied_on": TODAY.isoformat(),
        "current_ends_on": ENDS.isoformat(), "requested_ends_on": add_months(ENDS, 24).isoformat(),
        "interruption_from": None, "interruption_to": None, "justification": JUSTIFICATION,
        "decided_on": None, "reason": None, "granted_months": None, "decided_by": None, "withdrawn_on": None}
    assert [a["justification"] for a in submitted] == [JUSTIFICATION, None]  # node b applied before v2
    assert get(state, "/extension-applications") == submitted

    r = decide(state, app_a, {"approved": True, "reason": "bewilligt"})
    assert r.status_code == 200, r.text
    assert r.json() == {**first, "status": "approved", "decided_on": TODAY.isoformat(),
                        "reason": "bewilligt", "granted_months": 24, "decided_by": "funding_officer-1"}
    # a rejection needs a reason: refused without one, naming the field, nothing written or sent
    before = counts(state)
    for body in ({"approved": False}, {"approved": False, "reason": None}, {"approved": False, "reason": " \n "}):
        r = decide(state, app_b, body)
        assert (r.status_code, r.json()["detail"]) == (
            422, [{"field": "reason", "reason": "required for a rejection"}]), body
    assert counts(state) == before
    r = decide(state, app_b, {"approved": False, "reason": " Haushaltsmittel ausgeschöpft "})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["reason"] == "Haushaltsmittel ausgeschöpft"

    # the decisions go down to the applying node only, through the outbox
    down_a = eventually(lambda: stream_events(redis, down_stream("node-a")))
    down_b = eventually(lambda: stream_events(redis, down_stream("node-b")))
    assert len(down_a) == len(down_b) == 1
    (to_a,), (to_b,) = down_a, down_b
    assert (to_a.type, to_a.scope, to_a.target_node, to_a.tenant, to_a.node,
            to_a.aggregate_id) == ("ExtensionDecided", "down", "node-a", STUTTGART, "state",
                                   "pos-a")
    assert to_a.payload == {"application_id": app_a, "position_id": "pos-a", "approved": True,
                            "decided_on": TODAY.isoformat(), "reason": "bewilligt", "months": None,
                            "kind": "extension_24_months"}
    assert (to_b.target_node, to_b.tenant, to_b.payload["approved"], to_b.payload["reason"]) == (
        "node-b", HEIDELBERG, False, "Haushaltsmittel ausgeschöpft")
    assert redis.xlen(DOWN_ALL) == 0
    for stream in STREAMS.values():
        assert all(e.type != "ExtensionDecided" for e in stream_events(redis, stream)), stream

    # on approval the register's term moved by 24 months; the rejected one stayed
    ends = {p["position_id"]: p["ends_on"] for p in get(state, "/positions")["items"]}
    assert ends == {"pos-a": add_months(ENDS, 24).isoformat(), "pos-b": ENDS.isoformat()}

    # a second decision: 409 with the reason, nothing written or sent
    before = counts(state)
    r = decide(state, app_a, {"approved": False, "reason": "doch nicht"})
    assert r.status_code == 409
    assert r.json()["detail"] == f"extension application already approved on {TODAY}"
    assert counts(state) == before
    assert get(state, f"/extension-applications/{app_a}")["reason"] == "bewilligt"
    # a late duplicate of the application does not reopen it
    inbound(redis, applied(app_a, "pos-a"), node="node-a", tenant=STUTTGART)
    eventually(lambda: settled(redis))
    assert get(state, "/extension-applications?status=submitted") == []
    assert [a["id"] for a in get(state, "/extension-applications?status=approved")] == [app_a]
    assert [a["id"] for a in get(state, "/extension-applications?status=rejected")] == [app_b]
    assert len(stream_events(redis, down_stream("node-a"))) == 1
    assert redis.xlen(DEAD_LETTERS) == 0


# -- authorisation ----------------------------------------------------------------------------
def test_authorisation(state: NodeHandle, redis: Redis) -> None:
    app_a, _ = two_applications(redis)
    reads = ["/positions", "/extension-applications", f"/extension-applications/{app_a}"]
    decision = f"{API}/extension-applications/{app_a}/decision"
    before = counts(state)
    for path in reads:
        assert state.client.get(f"{API}{path}").status_code == 401, path
    assert state.client.post(decision, json={"approved": True}).status_code == 401
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert state.client.post(decision, json={"approved": True},
                             headers=bad_token).status_code == 401
    for role in ("manager", "lead", "node_admin"):
        for path in reads:
            r = state.client.get(f"{API}{path}", headers=as_(state, role))
            assert r.status_code == 403, (role, path)
        assert decide(state, app_a, {"approved": True}, role).status_code == 403, role
    for role in ("state_operator", "funding_officer"):
        for path in reads:
            r = state.client.get(f"{API}{path}", headers=as_(state, role))
            assert r.status_code == 200, (role, path)
    # the state operator watches but does not decide; the role is checked before the body
    assert decide(state, app_a, {"approved": True}, "state_operator").status_code == 403
    assert decide(state, app_a, {"approved": "x"}, "state_operator").status_code == 403
    assert counts(state) == before
    assert redis.xlen(down_stream("node-a")) == 0
    # municipal-only paths are not mounted at state level
    r = state.client.get(f"{API}/positions/pos-a", headers=as_(state, "funding_officer"))
    assert r.status_code == 404
    r = state.client.post(f"{API}/positions", headers=as_(state, "funding_officer"),
                          json={"fte": 0.5, "starts_on": "2026-01-01", "ends_on": "2027-01-01"})
    assert r.status_code == 405


def test_state_routes_are_not_served_by_a_municipal_node(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("funding")
    officer = node.headers("f1", "funding_officer", tenants=[STUTTGART])
    r = node.client.post(f"{API}/extension-applications/x/decision", json={"approved": True},
                         headers=officer)
    assert r.status_code in (404, 405)
    assert node.client.get(f"{API}/positions", headers=officer).status_code == 403


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_names_the_field_writes_and_sends_nothing(state: NodeHandle,
                                                            redis: Redis) -> None:
    app_a, _ = two_applications(redis)
    cases: list[tuple[Any, str]] = [
        ({}, "approved"), ({"reason": "ok"}, "approved"),
        ({"approved": "yes"}, "approved"), ({"approved": "true"}, "approved"),
        ({"approved": 1}, "approved"), ({"approved": None}, "approved"),
        ({"approved": [True]}, "approved"),
        ({"approved": True, "reason": "x" * 2001}, "reason"),
        ({"approved": True, "reason": BIG}, "reason"), ({"approved": True, "reason": 5}, "reason"),
        ({"approved": True, "reason": ["a"]}, "reason"),
        ({"approved": True, "reason": "ok\x00"}, "reason"),
        ({"approved": False}, "reason"), ({"approved": False, "reason": ""}, "reason"),
        ({"approved": True, "ends_on": "2040-01-01"}, "ends_on"),
        ({"approved": True, "decided_on": "2020-01-01"}, "decided_on"),
    ]
    before = counts(state)
    for body, field in cases:
        r = decide(state, app_a, body)
        assert r.status_code == 422, (str(body)[:80], r.text[:300])
        assert field in [d["field"] for d in r.json()["detail"]], (field, r.text[:300])
    url = f"{API}/extension-applications/{app_a}/decision"
    officer = as_(state, "funding_officer")
    for raw in (b"", b"[1, 2]", b"{not json", b'"approved"', b"true"):
        r = state.client.post(url, content=raw, headers={**officer,
                                                         "Content-Type": "application/json"})
        assert r.status_code == 422, raw
    assert state.client.post(url, headers=officer).status_code == 422  # no body at all
    # unknown ids
    for unknown in ("01JZZZZZZZZZZZZZZZZZZZZZZZ", MB[:4000]):
        r = decide(state, unknown, {"approved": True})
        assert r.status_code == 404 and r.json()["detail"] == "extension application not found"
        r = state.client.get(f"{API}/extension-applications/{unknown}", headers=officer)
        assert r.status_code == 404
    # query parameters
    for path, field in [("/extension-applications?status=pending", "status"),
                        ("/extension-applications?status=SUBMITTED", "status"),
                        (f"/extension-applications?status={MB[:10_000]}", "status"),
                        ("/positions?tenant=0811100", "tenant"),
                        ("/positions?tenant=abcdefgh", "tenant"),
                        (f"/positions?tenant={MB[:10_000]}", "tenant")]:
        r = state.client.get(f"{API}{path}", headers=officer)
        assert r.status_code == 422, path[:60]
        assert [d["field"] for d in r.json()["detail"]] == [field], path[:60]
    assert counts(state) == before
    assert get(state, f"/extension-applications/{app_a}")["status"] == "submitted"
    assert redis.xlen(down_stream("node-a")) == 0 and redis.xlen(down_stream("node-b")) == 0


def test_malformed_inbound_ids_go_to_the_dead_letters(state: NodeHandle, redis: Redis) -> None:
    inbound(redis, registered("p" * 101, 0.5), node="node-a", tenant=STUTTGART, aggregate_id="p")
    inbound(redis, registered("fine", 0.5), node="node-a", tenant=STUTTGART)
    eventually(lambda: redis.xlen(DEAD_LETTERS) == 1, timeout=20)
    assert [p["position_id"] for p in get(state, "/positions")["items"]] == ["fine"]


def test_an_interruption_is_shown_to_the_officer_and_moves_the_register_by_12_months(
        state: NodeHandle, redis: Redis) -> None:
    app = new_event_id()
    inbound(redis, registered("pos-i", 0.5), node="node-a", tenant=STUTTGART)
    inbound(redis, applied(app, "pos-i", kind=ExtensionKind.interruption_12_months, justification=JUSTIFICATION,
                           interruption_from=STARTS, interruption_to=STARTS + timedelta(days=60)),
            node="node-a", tenant=STUTTGART)
    eventually(lambda: settled(redis))
    shown = get(state, f"/extension-applications/{app}", "funding_officer")
    assert (shown["kind"], shown["justification"], shown["interruption_from"], shown["interruption_to"]) == (
        "interruption_12_months", JUSTIFICATION, STARTS.isoformat(), (STARTS + timedelta(days=60)).isoformat())
    r = decide(state, app, {"approved": True})
    assert r.status_code == 200 and r.json()["reason"] is None
    assert [p["ends_on"] for p in get(state, "/positions")["items"]] == [add_months(ENDS, 12).isoformat()]
