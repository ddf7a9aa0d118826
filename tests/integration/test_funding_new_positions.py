"""Applications for a new position: on a municipal node (applied, decided, withdrawn) and at the state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader
from redis import Redis

from services.funding.terms import add_months
from shared import clock
from shared.events import STREAMS, envelope_for
from shared.events.codes import PositionStatus
from shared.events.funding import (
    ExtensionApplied,
    ExtensionDecided,
    ExtensionKind,
    ExtensionWithdrawn,
    PositionRegistered,
    Qualification,
)
from shared.federation.keys import down_stream
from tests.integration.test_funding_service import counts, funding_events, lead
from tests.integration.test_funding_state import as_, inbound, settled, stream_events
from tests.integration.test_funding_state import counts as state_counts
from tests.nodes import STUTTGART, NodeHandle, eventually

API = "/api/funding/v1"
TODAY = clock.today()
STARTS = date(TODAY.year, TODAY.month, 1)
JUSTIFICATION = "Die Zahl der Geflüchteten in der Anschlussunterbringung hat sich verdoppelt."
RATES = {"vocational": 51_000, "academic": 60_000}


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding")


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def body(**values: Any) -> dict[str, Any]:
    return {"fte": 0.75, "qualification": "academic", "starts_on": STARTS.isoformat(), "months": 36,
            "justification": JUSTIFICATION, **values}


def apply_new(node: NodeHandle, **values: Any) -> Any:
    return node.client.post(f"{API}/new-position-applications", json=body(**values), headers=lead(node))


def decide_here(redis: Redis, application: dict[str, Any], **values: Any) -> None:
    """The state's decision as the federation link delivers it to the municipal node."""
    decision = ExtensionDecided(application_id=application["id"], position_id=application["position_id"],
                                decided_on=TODAY, kind=ExtensionKind.new_position, **values)
    env = envelope_for(decision, tenant=application["tenant"], node="state", aggregate_id=application["position_id"],
                       target_node="test-node")
    redis.xadd(STREAMS["federation"], {"event": env.to_json()})


def get(node: NodeHandle, path: str) -> Any:
    r = node.client.get(f"{API}{path}", headers=lead(node))
    assert r.status_code == 200, r.text
    return r.json()


def pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


# -- the municipal node -----------------------------------------------------------------------
def test_a_new_position_is_applied_for_counted_nowhere_and_approved_with_fewer_months(
        node: NodeHandle, redis: Redis) -> None:
    r = apply_new(node)
    assert r.status_code == 201, r.text
    application = r.json()
    ends = add_months(STARTS, 36)
    assert (application["kind"], application["status"], application["current_ends_on"],
            application["requested_ends_on"], application["justification"], application["has_letter"]) == (
        "new_position", "submitted", STARTS.isoformat(), ends.isoformat(), JUSTIFICATION, False)
    pid = application["position_id"]
    position = get(node, f"/positions/{pid}")
    assert (position["status"], position["fte"], position["qualification"], position["ends_on"],
            position["open_application_id"]) == ("applied", 0.75, "academic", ends.isoformat(), application["id"])
    # up: the position as applied for, then its application with the justification, in one aggregate
    registered, applied = eventually(lambda: len(found := [e for e in funding_events(redis)
                                                            if e.aggregate_id == pid]) == 2 and found)
    assert (registered.type, registered.payload["status"]) == ("PositionRegistered", "applied")
    assert (applied.type, applied.payload["kind"], applied.payload["justification"]) == (
        "ExtensionApplied", "new_position", JUSTIFICATION)
    # counted nowhere and granted nothing until approved: no grant, no payout, no occupancy, no extension
    assert get(node, f"/positions/{pid}/grants")["items"] == []
    assert get(node, f"/key-figures/{TODAY.year}")["positions"] == 0
    assert node.client.put(f"{API}/positions/{pid}/payouts/{TODAY.year}", json={"paid_eur": "10"},
                           headers=lead(node)).status_code == 422
    occupy = node.client.post(f"{API}/positions/{pid}/occupancy", headers=lead(node),
                              json={"occupied": True, "since": STARTS.isoformat()})
    assert occupy.status_code == 409 and "applied" in occupy.json()["detail"]
    extend = node.client.post(f"{API}/positions/{pid}/extension-applications", headers=lead(node),
                              json={"justification": JUSTIFICATION})
    assert extend.status_code == 409

    decide_here(redis, application, approved=True, reason="Nur 24 Monate: Haushaltslage", months=24)
    url = f"/extension-applications/{application['id']}"
    decided = eventually(lambda: (a := get(node, url)) and a["status"] == "approved" and a)
    assert (decided["granted_months"], decided["has_letter"]) == (24, True)
    approved = get(node, f"/positions/{pid}")
    assert (approved["status"], approved["ends_on"], approved["open_application_id"]) == (
        "approved", add_months(STARTS, 24).isoformat(), None)
    assert get(node, f"/key-figures/{TODAY.year}")["positions"] == 1
    assert [g["months"] for g in get(node, f"/positions/{pid}/grants")["items"]]  # funded now
    letter = node.client.get(f"{API}{url}/letter.pdf", headers=lead(node))
    assert letter.status_code == 200
    text = pdf_text(letter.content)
    for expected in ("neuen Stelle", "teilweise", "für 24 Monate", "beantragt: 36 Monate",
                     f"{STARTS:%d.%m.%Y}", f"{add_months(STARTS, 24):%d.%m.%Y}", "Nur 24 Monate: Haushaltslage",
                     "Rechtsbehelfsbelehrung"):
        assert expected in " ".join(text.split()), expected


def test_a_refused_new_position_stays_visible_and_a_withdrawn_one_too(node: NodeHandle, redis: Redis) -> None:
    refused = apply_new(node, fte=0.25, qualification="vocational", months=60).json()
    decide_here(redis, refused, approved=False, reason="Keine Mittel im Kreis")
    eventually(lambda: get(node, f"/extension-applications/{refused['id']}")["status"] == "rejected")
    position = get(node, f"/positions/{refused['position_id']}")
    assert (position["status"], position["ends_on"]) == ("refused", add_months(STARTS, 60).isoformat())
    assert get(node, f"/positions/{refused['position_id']}/grants")["items"] == []
    text = " ".join(pdf_text(node.client.get(f"{API}/extension-applications/{refused['id']}/letter.pdf",
                                             headers=lead(node)).content).split())
    assert "abgelehnt" in text and "nicht gefördert" in text and "Keine Mittel im Kreis" in text

    withdrawn = apply_new(node).json()
    r = node.client.post(f"{API}/extension-applications/{withdrawn['id']}/withdraw", headers=lead(node))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert get(node, f"/positions/{withdrawn['position_id']}")["status"] == "withdrawn"
    eventually(lambda: [e.type for e in funding_events(redis) if e.aggregate_id == withdrawn["position_id"]] == [
        "PositionRegistered", "ExtensionApplied", "ExtensionWithdrawn"])
    # both stay in the register, neither counts
    listed = {p["id"]: p["status"] for p in get(node, "/positions")["items"]}
    assert listed == {refused["position_id"]: "refused", withdrawn["position_id"]: "withdrawn"}
    assert get(node, f"/key-figures/{TODAY.year}")["positions"] == 0


BAD = [
    ({"fte": 0.2}, "fte"), ({"fte": 1.05}, "fte"), ({"fte": 0.33}, "fte"), ({"months": 61}, "months"),
    ({"months": 0}, "months"), ({"months": "36"}, "months"), ({"qualification": "doctoral"}, "qualification"),
    ({"justification": "   zu kurz   "}, "justification"), ({"justification": None}, "justification"),
    ({"starts_on": "31.02.2026"}, "starts_on"), ({"starts_on": "1999-12-01"}, "starts_on"),
    ({"starts_on": date(TODAY.year - 6, 1, 1).isoformat()}, "starts_on"), ({"tenant": "08221000"}, "tenant"),
    ({"kind": "new_position"}, "kind"),
]


def test_bad_input_names_the_field_and_writes_nothing(node: NodeHandle) -> None:
    before = counts(node)
    for values, field in BAD:
        r = apply_new(node, **values)
        assert r.status_code == 422, (values, r.text)
        assert field in [d["field"] for d in r.json()["detail"]], (values, r.text)
    assert counts(node) == before


def test_an_extension_application_cannot_ask_for_a_new_position(node: NodeHandle) -> None:
    position = node.client.post(f"{API}/positions", headers=lead(node), json={
        "fte": 0.5, "starts_on": STARTS.isoformat(), "ends_on": add_months(STARTS, 12).isoformat()}).json()
    before = counts(node)
    r = node.client.post(f"{API}/positions/{position['id']}/extension-applications", headers=lead(node),
                         json={"kind": "new_position", "justification": JUSTIFICATION})
    assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == ["kind"], r.text
    assert counts(node) == before


def test_managers_read_but_do_not_apply(node: NodeHandle) -> None:
    manager = node.headers("mia", "manager", tenants=[STUTTGART])
    r = node.client.post(f"{API}/new-position-applications", json=body(), headers=manager)
    assert r.status_code == 403


# -- the state --------------------------------------------------------------------------------
def new_at_state(redis: Redis, application_id: str, position_id: str, months: int = 36,
                 fte: float = 1.0) -> None:
    ends = add_months(STARTS, months)
    inbound(redis, PositionRegistered(position_id=position_id, fte=fte, starts_on=STARTS, ends_on=ends,
                                      status=PositionStatus.applied, qualification=Qualification.academic),
            node="node-a", tenant=STUTTGART)
    inbound(redis, ExtensionApplied(application_id=application_id, position_id=position_id, applied_on=TODAY,
                                    current_ends_on=STARTS, requested_ends_on=ends, kind=ExtensionKind.new_position,
                                    justification=JUSTIFICATION), node="node-a", tenant=STUTTGART)
    eventually(lambda: settled(redis))


def at_state(state: NodeHandle, method: str, path: str, status: int = 200, role: str = "funding_officer",
             **kw: Any) -> Any:
    r = state.client.request(method, f"{API}{path}", headers=as_(state, role), **kw)
    assert r.status_code == status, r.text
    return r.json()


def test_the_officer_sees_and_decides_a_new_position_with_its_budget_impact(state: NodeHandle, redis: Redis) -> None:
    at_state(state, "POST", "/years", 201, json={"year": TODAY.year, "budget_eur": 100_000, "rates_eur": RATES})
    new_at_state(redis, "app-new-1", "pos-new-1")
    (queued,) = at_state(state, "GET", "/extension-applications?status=submitted")
    assert (queued["kind"], queued["justification"], queued["position_id"]) == (
        "new_position", JUSTIFICATION, "pos-new-1")
    register = at_state(state, "GET", "/positions")
    assert [p["status"] for p in register["items"]] == ["applied"] and register["totals"] == []
    assert at_state(state, "GET", "/positions/pos-new-1/grants")["items"] == []
    assert at_state(state, "GET", f"/years/{TODAY.year}/allocation")["committed_eur"] == 0.0
    # approving as asked adds the whole grant of each year; 60,000 × 1.0 × months / 12
    (impact,) = [i for i in at_state(state, "GET", "/extension-applications/app-new-1/impact")
                 if i["year"] == TODAY.year]
    months_this_year = 13 - STARTS.month
    assert impact["extra_eur"] == 5_000.0 * months_this_year
    assert impact["exceeds_budget"] == (5_000.0 * months_this_year > 100_000)

    before = state_counts(state)
    for decision, field in (({"approved": True, "months": 24}, "reason"), ({"approved": False}, "reason"),
                            ({"approved": True, "months": 37, "reason": "mehr"}, "months"),
                            ({"approved": True, "months": 61, "reason": "mehr"}, "months")):
        refused = at_state(state, "POST", "/extension-applications/app-new-1/decision", 422, json=decision)
        assert [d["field"] for d in refused["detail"]] == [field], decision
    assert state_counts(state) == before  # nothing written, nothing sent
    decided = at_state(state, "POST", "/extension-applications/app-new-1/decision",
                       json={"approved": True, "months": 24, "reason": "Haushaltslage"})
    assert (decided["status"], decided["granted_months"]) == ("approved", 24)
    position = at_state(state, "GET", "/positions")["items"][0]
    assert (position["status"], position["ends_on"]) == ("approved", add_months(STARTS, 24).isoformat())
    assert at_state(state, "GET", f"/years/{TODAY.year}/allocation")["committed_eur"] == impact["extra_eur"]
    # the decision goes down through the state's outbox: its relay publishes after the commit
    down = eventually(lambda: [e for e in stream_events(redis, down_stream("node-a"))
                               if e.type == "ExtensionDecided"])
    assert [(e.payload["kind"], e.payload["months"]) for e in down] == [("new_position", 24)]


def test_a_refused_or_withdrawn_new_position_counts_nowhere_at_the_state(state: NodeHandle, redis: Redis) -> None:
    new_at_state(redis, "app-new-2", "pos-new-2")
    new_at_state(redis, "app-new-3", "pos-new-3", fte=0.5)
    at_state(state, "POST", "/extension-applications/app-new-2/decision",
             json={"approved": False, "reason": "Keine Mittel"})
    inbound(redis, ExtensionWithdrawn(application_id="app-new-3", position_id="pos-new-3", withdrawn_on=TODAY),
            node="node-a", tenant=STUTTGART)
    eventually(lambda: settled(redis))
    register = at_state(state, "GET", "/positions")
    assert {p["position_id"]: p["status"] for p in register["items"]} == {
        "pos-new-2": "refused", "pos-new-3": "withdrawn"}
    assert register["totals"] == []
    at_state(state, "POST", "/extension-applications/app-new-3/decision", 409, json={"approved": True})
