"""The funding service on a real node: positions, occupancy, extensions, the state's decisions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from services.funding.models import FundingExtensionApplication, FundingPosition
from services.funding.terms import add_months
from shared import clock
from shared.bus import InboxEntry, OutboxEvent
from shared.events import DEAD_LETTERS, STREAMS, Envelope, envelope_for
from shared.events.funding import ExtensionDecided
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

API = "/api/funding/v1"
TODAY = clock.today()
STARTS = date(TODAY.year - 1, 3, 1)
# The next 29 February at least a year ahead: its extension must land on 28 February.
LEAP_END = next(date(y, 2, 29) for y in range(TODAY.year + 1, TODAY.year + 9) if y % 4 == 0)
MB = "x" * 1_000_000
BIG = "x" * 60_000  # a long value in a body the node still accepts (64 KiB), refused by its field
JUSTIFICATION = "Die Stelle wird zum 1. des Monats nachbesetzt."
NO_BODY: Any = None  # json=None: the request has no body at all


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding")  # only this service is installed: the test stands on its own


def lead(node: NodeHandle, tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(f"lead-{tenant}", "lead", tenants=[tenant])


def register(node: NodeHandle, as_: dict[str, str], **body: Any) -> Any:
    values = {"fte": 0.5, "starts_on": STARTS.isoformat(), "ends_on": LEAP_END.isoformat(), **body}
    return node.client.post(f"{API}/positions", json=values, headers=as_)


def new_position(node: NodeHandle, tenant: str = STUTTGART, **body: Any) -> dict[str, Any]:
    r = register(node, lead(node, tenant), **body)
    assert r.status_code == 201, r.text
    return r.json()


def apply(node: NodeHandle, position_id: str, as_: dict[str, str], **kw: Any) -> Any:
    """Apply with a justification unless the test sends its own body (or none: json=NO_BODY)."""
    path = f"{API}/positions/{position_id}/extension-applications"
    if "json" not in kw and "content" not in kw:
        kw["json"] = {"justification": JUSTIFICATION}
    return node.client.post(path, headers=as_, **kw)


def counts(node: NodeHandle) -> tuple[int, int, int]:
    """Rows in the service's tables and its outbox: what a refused request must leave alone."""
    with node.node.contexts["funding"].database.session() as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(t)).one()
            for t in (FundingPosition, FundingExtensionApplication, OutboxEvent))


def funding_events(redis: Redis) -> list[Envelope]:
    return [Envelope.model_validate_json(f[b"event"]) for _, f in redis.xrange(STREAMS["funding"])]


def decide(redis: Redis, application: dict[str, Any], *, approved: bool, tenant: str | None = None,
           reason: str | None = None, **payload: Any) -> Envelope:
    """The state node's decision as the federation link delivers it to this node."""
    values = {"application_id": application["id"], "position_id": application["position_id"],
              "approved": approved, "decided_on": TODAY, "reason": reason, **payload}
    env = envelope_for(ExtensionDecided(**values), tenant=tenant or application["tenant"],
                       node="state", aggregate_id=values["position_id"], target_node="test-node")
    redis.xadd(STREAMS["federation"], {"event": env.to_json()})
    return env


def decisions_settled(redis: Redis) -> bool:
    """The funding group has read and acknowledged everything on the federation stream."""
    group = next(g for g in redis.xinfo_groups(STREAMS["federation"]) if g["name"] == b"funding")
    return group["lag"] == 0 and group["pending"] == 0


def inbox(node: NodeHandle) -> set[str]:
    with node.node.contexts["funding"].database.session() as s:
        return set(s.exec(select(InboxEntry.event_id).where(InboxEntry.group == "funding")).all())


# -- happy path and events --------------------------------------------------------------------
def test_position_lifecycle_and_approved_extension(node: NodeHandle, redis: Redis) -> None:
    as_lead = lead(node)
    position = new_position(node, fte=0.75)
    pid = position["id"]
    assert position == {"id": pid, "tenant": STUTTGART, "fte": 0.75, "qualification": "vocational",
                        "starts_on": STARTS.isoformat(), "ends_on": LEAP_END.isoformat(),
                        "status": "approved", "status_since": None, "ended": False, "open_application_id": None}
    get = lambda path: node.client.get(f"{API}{path}", headers=as_lead)  # noqa: E731
    assert get(f"/positions/{pid}").json() == position
    assert [p["id"] for p in get("/positions").json()["items"]] == [pid]

    occupy = lambda occupied, since: node.client.post(  # noqa: E731
        f"{API}/positions/{pid}/occupancy", headers=as_lead,
        json={"occupied": occupied, "since": since.isoformat()})
    first_day = STARTS + timedelta(days=14)
    r = occupy(True, first_day)
    assert r.status_code == 200 and r.json()["status"] == "occupied"
    assert r.json()["status_since"] == first_day.isoformat()
    again = occupy(True, first_day + timedelta(days=3))  # same occupancy: no change, no event
    assert again.status_code == 200 and again.json() == r.json()
    vacated = occupy(False, TODAY)
    assert vacated.status_code == 200 and vacated.json()["status"] == "vacant"

    r = apply(node, pid, as_lead, json={"justification": f"  {JUSTIFICATION}\n"})  # trimmed
    assert r.status_code == 201, r.text
    application = r.json()
    requested = date(LEAP_END.year + 2, 2, 28)
    assert application == {
        "id": application["id"], "tenant": STUTTGART, "position_id": pid, "status": "submitted",
        "kind": "extension_24_months", "applied_on": TODAY.isoformat(), "current_ends_on": LEAP_END.isoformat(),
        "requested_ends_on": requested.isoformat(), "interruption_from": None, "interruption_to": None,
        "justification": JUSTIFICATION, "decided_on": None,
        "reason": None, "granted_months": None, "withdrawn_on": None,
        "has_letter": False}
    assert get(f"/positions/{pid}").json()["open_application_id"] == application["id"]
    assert get("/positions").json()["items"][0]["open_application_id"] == application["id"]
    r = apply(node, pid, as_lead)
    assert r.status_code == 409
    assert r.json()["detail"] == f"position already has open application {application['id']}"
    assert get(f"/extension-applications/{application['id']}").json() == application
    assert [a["id"] for a in get(f"/positions/{pid}/extension-applications").json()] == [
        application["id"]]

    # what went onto the bus, in order, with thin payloads
    events = eventually(lambda: (e := funding_events(redis)) and len(e) == 4 and e)
    assert [e.type for e in events] == ["PositionRegistered", "PositionOccupancyChanged",
                                        "PositionOccupancyChanged", "ExtensionApplied"]
    assert all(e.tenant == STUTTGART and e.aggregate_id == pid and e.node == "test-node"
               and e.scope == "up" for e in events)
    assert events[0].payload == {"position_id": pid, "fte": 0.75, "starts_on": STARTS.isoformat(),
                                 "ends_on": LEAP_END.isoformat(), "status": "approved",
                                 "qualification": "vocational"}
    assert events[1].payload == {"position_id": pid, "occupied": True,
                                 "since": first_day.isoformat(), "status": "occupied"}
    assert events[2].payload == {"position_id": pid, "occupied": False, "since": TODAY.isoformat(),
                                 "status": "vacant"}
    # since v2 the justification goes up with the application, for the officer who decides it
    assert events[3].payload == {"application_id": application["id"], "position_id": pid,
                                 "applied_on": TODAY.isoformat(),
                                 "current_ends_on": LEAP_END.isoformat(),
                                 "requested_ends_on": requested.isoformat(), "kind": "extension_24_months",
                                 "justification": JUSTIFICATION, "interruption_from": None,
                                 "interruption_to": None}
    assert json.dumps([e.payload for e in events]).count("nachbesetzt") == 1  # nowhere else

    # the state approves: the application is decided and the term moves by 24 months
    approval = decide(redis, application, approved=True, reason="bewilligt")
    decided = eventually(lambda: (a := get(f"/extension-applications/{application['id']}").json())
                         and a["status"] == "approved" and a)
    assert decided["decided_on"] == TODAY.isoformat() and decided["reason"] == "bewilligt"
    assert get(f"/positions/{pid}").json()["ends_on"] == requested.isoformat()
    assert get(f"/positions/{pid}").json()["open_application_id"] is None

    # the same envelope delivered again, then a contradicting second decision: both change nothing
    redis.xadd(STREAMS["federation"], {"event": approval.to_json()})
    later = decide(redis, application, approved=False, reason="zweite Entscheidung")
    eventually(lambda: later.event_id in inbox(node) and decisions_settled(redis))
    assert get(f"/positions/{pid}").json()["ends_on"] == requested.isoformat()
    assert get(f"/extension-applications/{application['id']}").json() == decided
    assert redis.xlen(DEAD_LETTERS) == 0

    # the extended position can be extended again, from its new end
    r = apply(node, pid, as_lead)
    assert r.status_code == 201
    assert r.json()["requested_ends_on"] == add_months(requested, 24).isoformat()


def test_rejection_leaves_the_term_and_allows_a_new_application(node: NodeHandle,
                                                                redis: Redis) -> None:
    as_lead = lead(node, HEIDELBERG)
    position = new_position(node, HEIDELBERG, ends_on=date(TODAY.year + 2, 8, 31).isoformat())
    # v1 took no body; since v2 the justification is required, and its absence names it
    for body in (NO_BODY, {}, {"reason": "v1 never had this field"}):
        r = apply(node, position["id"], as_lead, json=body)
        assert r.status_code == 422 and "justification" in [d["field"] for d in r.json()["detail"]], r.text
    application = apply(node, position["id"], as_lead).json()
    assert application["justification"] == JUSTIFICATION
    decide(redis, application, approved=False, reason="Haushaltsmittel ausgeschöpft")
    url = f"{API}/extension-applications/{application['id']}"
    rejected = eventually(lambda: (a := node.client.get(url, headers=as_lead).json())
                          and a["status"] == "rejected" and a)
    assert rejected["reason"] == "Haushaltsmittel ausgeschöpft"
    assert rejected["decided_on"] == TODAY.isoformat()
    assert node.client.get(f"{API}/positions/{position['id']}",
                           headers=as_lead).json()["ends_on"] == position["ends_on"]
    second = apply(node, position["id"], as_lead)
    assert second.status_code == 201 and second.json()["status"] == "submitted"
    assert second.json()["requested_ends_on"] == date(TODAY.year + 4, 8, 31).isoformat()


def test_decisions_that_are_not_ours_are_ignored(node: NodeHandle, redis: Redis) -> None:
    position = new_position(node)
    application = apply(node, position["id"], lead(node)).json()
    stray = [
        decide(redis, {**application, "id": "01JUNKNOWNAPPLICATION00000"}, approved=True),
        decide(redis, application, approved=True, tenant=HEIDELBERG),  # another municipality's
        decide(redis, {**application, "position_id": "01JOTHERPOSITION0000000000"}, approved=True),
    ]
    eventually(lambda: {e.event_id for e in stray} <= inbox(node) and decisions_settled(redis))
    assert redis.xlen(DEAD_LETTERS) == 0  # ignored, not retried into the dead letters
    url = f"{API}/extension-applications/{application['id']}"
    assert node.client.get(url, headers=lead(node)).json()["status"] == "submitted"
    assert node.client.get(f"{API}/positions/{position['id']}",
                           headers=lead(node)).json()["ends_on"] == position["ends_on"]
    decide(redis, application, approved=True)  # the real one still applies
    eventually(lambda: node.client.get(url, headers=lead(node)).json()["status"] == "approved")


def test_an_ended_position_cannot_be_extended(node: NodeHandle) -> None:
    ended_on = TODAY - timedelta(days=1)
    position = new_position(node, starts_on=(TODAY - timedelta(days=800)).isoformat(),
                            ends_on=ended_on.isoformat())
    assert position["ended"] is True and position["status"] == "approved"
    before = counts(node)
    r = apply(node, position["id"], lead(node))
    assert r.status_code == 409 and r.json()["detail"] == f"position ended on {ended_on}"
    assert counts(node) == before
    ends_today = new_position(node, starts_on=STARTS.isoformat(), ends_on=TODAY.isoformat())
    assert ends_today["ended"] is False
    assert apply(node, ends_today["id"], lead(node)).status_code == 201


# -- authorisation ----------------------------------------------------------------------------
def test_authorisation_matrix(node: NodeHandle) -> None:
    position = new_position(node)
    pid = position["id"]
    application = apply(node, pid, lead(node)).json()
    occupancy = {"occupied": True, "since": STARTS.isoformat()}
    writes = [("POST", "/positions", {"fte": 0.5, "starts_on": STARTS.isoformat(),
                                       "ends_on": LEAP_END.isoformat()}),
              ("POST", f"/positions/{pid}/occupancy", occupancy),
              ("POST", f"/positions/{pid}/extension-applications", None)]
    reads = [("GET", "/positions", None), ("GET", f"/positions/{pid}", None),
             ("GET", f"/positions/{pid}/extension-applications", None),
             ("GET", f"/extension-applications/{application['id']}", None)]

    def call(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        return node.client.request(method, f"{API}{path}", json=body, headers=headers)

    before = counts(node)
    for method, path, body in writes + reads:
        assert call(method, path, body, {}).status_code == 401, path
        bad = {"Authorization": "Bearer not-a-token"}
        assert call(method, path, body, bad).status_code == 401, path
    manager = node.headers("m1", "manager", tenants=[STUTTGART])
    for role in ("manager", "funding_officer", "state_operator"):
        for method, path, body in writes:
            r = call(method, path, body, node.headers("u1", role, tenants=[STUTTGART]))
            assert r.status_code == 403, (role, path)
    for role in ("funding_officer", "state_operator"):
        for method, path, body in reads:
            r = call(method, path, body, node.headers("u1", role, tenants=[STUTTGART]))
            assert r.status_code == 403, (role, path)
    # the role is checked before the body: no probing of validation without the right to write
    assert call("POST", "/positions", {"fte": "x"}, manager).status_code == 403
    assert counts(node) == before
    for method, path, body in reads:
        assert call(method, path, body, manager).status_code == 200, path
    assert call("GET", f"/positions/{pid}", None, node.headers(
        "ops", "node_admin", tenants=[STUTTGART])).json() == {**position, "open_application_id": application["id"]}

    # Heidelberg's lead: Stuttgart's objects answer exactly like missing ones
    other = lead(node, HEIDELBERG)
    missing_position = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    for method, path, body in writes[1:] + reads[1:]:
        mine = call(method, path, body, other)
        gone = call(method, path.replace(pid, missing_position).replace(
            application["id"], missing_position), body, other)
        assert mine.status_code == gone.status_code == 404, path
        assert mine.json() == gone.json(), path
    assert call("GET", "/positions", None, other).json() == {"items": [], "next_cursor": None}
    assert call("GET", f"/positions?tenant={STUTTGART}", None, other).json() == {"items": [], "next_cursor": None}
    assert counts(node) == before

    # writing for a tenant one may not act for, or without saying which of several
    r = register(node, lead(node), tenant=HEIDELBERG)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tenant"
    both = node.headers("l2", "lead", tenants=[STUTTGART, HEIDELBERG])
    r = register(node, both)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tenant"
    assert counts(node) == before
    admin = node.headers("ops", "node_admin", tenants=[STUTTGART, HEIDELBERG])
    r = register(node, admin, tenant=HEIDELBERG)
    assert r.status_code == 201 and r.json()["tenant"] == HEIDELBERG
    assert {p["tenant"] for p in call("GET", "/positions", None, admin).json()["items"]} == {
        STUTTGART, HEIDELBERG}
    assert [p["tenant"] for p in call("GET", f"/positions?tenant={HEIDELBERG}", None, admin
                                      ).json()["items"]] == [HEIDELBERG]


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(node: NodeHandle) -> None:
    as_lead = lead(node)
    position = new_position(node, starts_on="2026-01-01", ends_on="2027-12-31")
    pid = position["id"]
    node.client.post(f"{API}/positions/{pid}/occupancy", headers=as_lead,
                     json={"occupied": True, "since": "2026-06-01"})
    ok = {"fte": 0.5, "starts_on": "2026-01-01", "ends_on": "2027-12-31"}
    without = lambda key: {k: v for k, v in ok.items() if k != key}  # noqa: E731
    positions: list[tuple[Any, str]] = [
        (without("fte"), "fte"), (without("starts_on"), "starts_on"),
        (without("ends_on"), "ends_on"),
        ({**ok, "fte": 0}, "fte"), ({**ok, "fte": 0.05}, "fte"), ({**ok, "fte": 1.5}, "fte"),
        ({**ok, "fte": 0.2}, "fte"), ({**ok, "fte": 0.33}, "fte"), ({**ok, "qualification": "master"}, "qualification"),
        ({**ok, "fte": "x"}, "fte"), ({**ok, "fte": "0.5"}, "fte"), ({**ok, "fte": True}, "fte"),
        ({**ok, "fte": None}, "fte"), ({**ok, "fte": [0.5]}, "fte"),
        ({**ok, "starts_on": "2026-02-30"}, "starts_on"),
        ({**ok, "starts_on": 20260101}, "starts_on"),
        ({**ok, "starts_on": "1999-12-31"}, "starts_on"),
        ({**ok, "ends_on": "2100-01-01"}, "ends_on"),
        ({**ok, "starts_on": BIG}, "starts_on"), ({**ok, "ends_on": "soon"}, "ends_on"),
        ({**ok, "ends_on": "2025-12-31"}, "ends_on"), ({**ok, "ends_on": "2026-01-01"}, "ends_on"),
        ({**ok, "ends_on": "2031-02-01"}, "ends_on"),  # a term of 61 months
        ({**ok, "tenant": BIG}, "tenant"), ({**ok, "tenant": "0811100"}, "tenant"),
        ({**ok, "tenant": 8111000}, "tenant"), ({**ok, "colour": "blue"}, "colour"),
        ({**ok, "status": "occupied"}, "status"), ({**ok, "id": "mine"}, "id"),
    ]
    occupancy: list[tuple[Any, str]] = [
        ({"since": "2026-07-01"}, "occupied"), ({"occupied": False}, "since"),
        ({"occupied": "no", "since": "2026-07-01"}, "occupied"),
        ({"occupied": 0, "since": "2026-07-01"}, "occupied"),
        ({"occupied": None, "since": "2026-07-01"}, "occupied"),
        ({"occupied": False, "since": "yesterday"}, "since"),
        ({"occupied": False, "since": BIG}, "since"),
        ({"occupied": False, "since": "2025-12-31"}, "since"),  # before the position starts
        ({"occupied": False, "since": "2028-01-01"}, "since"),  # after it ends
        ({"occupied": False, "since": "2026-05-31"}, "since"),  # before the last change
        ({"occupied": False, "since": "2026-07-01", "note": BIG}, "note"),
    ]
    fine = {"justification": JUSTIFICATION}
    interruption = {**fine, "kind": "interruption_12_months", "interruption_from": "2026-03-01",
                    "interruption_to": "2026-05-31"}
    extension: list[tuple[Any, str]] = [
        ({}, "justification"), ({"justification": None}, "justification"),
        ({"justification": "x" * 19}, "justification"), ({"justification": " " * 10 + "x" * 19 + "\n" * 5},
                                                         "justification"),
        ({"justification": "x" * 4001}, "justification"), ({"justification": BIG}, "justification"),
        ({"justification": 5}, "justification"), ({"justification": ["a"]}, "justification"),
        ({"justification": JUSTIFICATION + "\x00"}, "justification"),
        ({**fine, "reason": "x"}, "reason"), ({**fine, "ends_on": "2040-01-01"}, "ends_on"),
        ({**fine, "kind": "forever"}, "kind"), ({**fine, "kind": None}, "kind"),
        ({**fine, "interruption_from": "2026-03-01"}, "interruption_from"),  # not with 24 months
        ({**interruption, "interruption_from": None}, "interruption_from"),
        ({**interruption, "interruption_to": None}, "interruption_to"),
        ({**interruption, "interruption_from": "soon"}, "interruption_from"),
        ({**interruption, "interruption_to": 20260531}, "interruption_to"),
        ({**interruption, "interruption_to": "2026-03-01"}, "interruption_to"),  # not after from
        ({**interruption, "interruption_from": "2025-12-31"}, "interruption_from"),  # before the term
        ({**interruption, "interruption_to": "2028-01-01"}, "interruption_to"),  # after the term
    ]
    cases = ([("/positions", b, f) for b, f in positions]
             + [(f"/positions/{pid}/occupancy", b, f) for b, f in occupancy]
             + [(f"/positions/{pid}/extension-applications", b, f) for b, f in extension])
    before = counts(node)
    for path, body, field in cases:
        r = node.client.post(f"{API}{path}", json=body, headers=as_lead)
        assert r.status_code == 422, (path, body if body is not BIG else "60 kB", r.text[:300])
        assert field in [d["field"] for d in r.json()["detail"]], (path, field, r.text[:300])
    r = apply(node, pid, as_lead, json=NO_BODY)
    assert (r.status_code, r.json()["detail"]) == (422, [{"field": "justification", "reason": "Field required"}])
    for path in ("/positions", f"/positions/{pid}/occupancy",
                 f"/positions/{pid}/extension-applications"):
        for raw in (b"[1, 2]", b"{not json", b'"text"', b"null"):
            r = node.client.post(f"{API}{path}", content=raw, headers={
                **as_lead, "Content-Type": "application/json"})
            assert r.status_code == 422, (path, raw)
    # unknown ids with a valid body
    unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    r = node.client.post(f"{API}/positions/{unknown}/occupancy", headers=as_lead,
                         json={"occupied": False, "since": "2026-07-01"})
    assert r.status_code == 404 and r.json()["detail"] == "position not found"
    assert apply(node, unknown, as_lead).status_code == 404
    assert apply(node, MB[:4000], as_lead).status_code == 404
    assert node.client.get(f"{API}/extension-applications/{unknown}",
                           headers=as_lead).status_code == 404
    assert node.client.get(f"{API}/positions/{unknown}", headers=as_lead).status_code == 404
    assert counts(node) == before
    assert node.client.get(f"{API}/positions/{pid}", headers=as_lead).json()["status"] == "occupied"


def test_an_interruption_of_salary_payments_extends_by_12_months(node: NodeHandle, redis: Redis) -> None:
    position = new_position(node)
    interruption = {"kind": "interruption_12_months", "justification": "Elternzeit der Stelleninhaberin, ohne Bezüge",
                    "interruption_from": STARTS.isoformat(),
                    "interruption_to": (STARTS + timedelta(days=90)).isoformat()}
    r = apply(node, position["id"], lead(node), json=interruption)
    assert r.status_code == 201, r.text
    application = r.json()
    assert {k: application[k] for k in (*interruption, "requested_ends_on")} == {
        **interruption, "requested_ends_on": add_months(LEAP_END, 12).isoformat()}
    event = eventually(lambda: [e for e in funding_events(redis) if e.type == "ExtensionApplied"])[0]
    assert {k: event.payload[k] for k in interruption} == interruption
    decide(redis, application, approved=True)
    eventually(lambda: node.client.get(f"{API}/positions/{position['id']}", headers=lead(node)).json()["ends_on"]
               == add_months(LEAP_END, 12).isoformat())


def test_the_positions_come_in_pages(node: NodeHandle) -> None:
    made = [new_position(node, starts_on=(STARTS + timedelta(days=n % 3)).isoformat())["id"] for n in range(5)]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = node.client.get(f"{API}/positions", params=params, headers=lead(node))
        assert r.status_code == 200, r.text
        seen += [p["id"] for p in r.json()["items"]]
        assert len(r.json()["items"]) <= 2
        if (cursor := r.json()["next_cursor"]) is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    listed = node.client.get(f"{API}/positions", headers=lead(node)).json()["items"]
    by_start = {p["id"]: p["starts_on"] for p in listed}
    assert [by_start[i] for i in seen] == sorted(by_start[i] for i in seen)  # oldest term first, across pages
    for params, field in [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"cursor": "x"}, "cursor"),
                          ({"cursor": "01JZZZZZZZZZZZZZZZZZZZZZZZ"}, "cursor")]:
        r = node.client.get(f"{API}/positions", params=params, headers=lead(node))
        assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == [field], params
    # another municipality's position is no cursor of this list either
    other = new_position(node, HEIDELBERG)["id"]
    r = node.client.get(f"{API}/positions", params={"cursor": other}, headers=lead(node))
    assert r.status_code == 422 and r.json()["detail"] == [{"field": "cursor", "reason": "not a cursor of this list"}]


def test_the_openapi_document_says_the_application_needs_a_body(node: NodeHandle) -> None:
    operation = node.client.get("/openapi.json").json()["paths"][
        f"{API}/positions/{{position_id}}/extension-applications"]["post"]
    assert operation["requestBody"]["required"] is True
    schema = node.client.get("/openapi.json").json()["components"]["schemas"]["ExtensionApplicationCreate"]
    assert schema["required"] == ["justification"]
    assert (schema["properties"]["justification"]["minLength"], schema["properties"]["justification"]["maxLength"]) == (
        20, 4000)
