"""The manager's and the lead's work from first consultation to extended position, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import redis as redis_sync

from shared import clock
from shared.events import STREAMS, envelope_for
from shared.events.funding import ExtensionDecided
from tests.nodes import eventually

Url = Callable[[str], str]  # service name -> base URL of the process serving it
CANARY_NAME, CANARY_FAMILY, CANARY_BIRTH = "Zyxwvu", "Canarywood", "1987-03-14"
CANARY_NOTE = "Canary-Note-Qwerty"


def call(method: str, url: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15)


def case_to_closed_plan(url: Url, manager: str, tenant: str) -> dict[str, Any]:
    """Open a case -> plan appears -> goal, consultation, status -> version, last contact -> close."""
    r = call("POST", url("cases") + "/api/cases/v1/cases", manager, {
        "given_name": CANARY_NAME, "family_name": CANARY_FAMILY, "birth_date": CANARY_BIRTH,
        "nationality": "SYR", "languages": ["ar"], "household_size": 3,
        "accommodation_since": "2025-06-01", "tenant": tenant})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "open"
    plans = url("plans") + "/api/plans/v1"
    plan = eventually(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        call("GET", f"{plans}/plans?case_id={case['id']}", manager)))
    assert plan["version"] == 1
    goal = call("POST", f"{plans}/plans/{plan['id']}/goals", manager,
                {"area": "language", "title": "B1 course", "target_date": "2027-03-31"})
    assert goal.status_code == 201, goal.text
    held_on = (clock.today() - timedelta(days=1)).isoformat()
    r = call("POST", url("cases") + f"/api/cases/v1/cases/{case['id']}/consultations", manager, {
        "held_on": held_on, "duration_minutes": 45, "mode": "outreach",
        "topics": ["language", "housing"], "note": CANARY_NOTE})
    assert r.status_code == 201, r.text
    r = call("PATCH", f"{plans}/plans/{plan['id']}/goals/{goal.json()['id']}", manager,
             {"status": "in_progress"})
    assert r.status_code == 200, r.text
    plan = eventually(lambda: (lambda p: p if p["last_contact_on"] == held_on else None)(
        call("GET", f"{plans}/plans/{plan['id']}", manager).json()))
    assert plan["version"] == 3 and plan["goals"][0]["status"] == "in_progress"
    r = call("POST", url("cases") + f"/api/cases/v1/cases/{case['id']}/close", manager,
             {"reason": "independent"})
    assert r.status_code == 200, r.text
    return eventually(lambda: (lambda p: p if p["status"] == "closed" else None)(
        call("GET", f"{plans}/plans/{plan['id']}", manager).json()))


def position_to_extension(url: Url, lead: str, tenant: str, redis_url: str) -> dict[str, Any]:
    """Register -> occupy -> vacate -> apply -> (state decides) -> ends_on + 24 months, lead notified."""
    funding = url("funding") + "/api/funding/v1"
    start = clock.today() - timedelta(days=400)
    r = call("POST", f"{funding}/positions", lead, {"tenant": tenant, "fte": 0.75,
                                                    "starts_on": start.isoformat(),
                                                    "ends_on": (start + timedelta(days=730)).isoformat()})
    assert r.status_code == 201, r.text
    position = r.json()
    assert position["status"] == "approved"
    for occupied in (True, False):
        r = call("POST", f"{funding}/positions/{position['id']}/occupancy", lead,
                 {"occupied": occupied, "since": (start + timedelta(days=40 if occupied else 200)).isoformat()})
        assert r.status_code == 200 and r.json()["status"] == ("occupied" if occupied else "vacant"), r.text
    r = call("POST", f"{funding}/positions/{position['id']}/extension-applications", lead,
             {"justification": "Die Stelle wird nachbesetzt; der Bedarf besteht fort."})
    assert r.status_code == 201 and r.json()["status"] == "submitted", r.text
    application = r.json()
    decision = envelope_for(ExtensionDecided(application_id=application["id"], position_id=position["id"],
                                             approved=True, decided_on=clock.today()),
                            tenant=tenant, node="state", aggregate_id=position["id"], target_node="*")
    client = redis_sync.Redis.from_url(redis_url)
    client.xadd(STREAMS["federation"], {"event": decision.to_json()})
    client.close()
    decided = eventually(lambda: (lambda a: a if a["status"] == "approved" else None)(
        call("GET", f"{funding}/extension-applications/{application['id']}", lead).json()))
    moved = call("GET", f"{funding}/positions/{position['id']}", lead).json()
    old_end = date.fromisoformat(position["ends_on"])
    assert date.fromisoformat(moved["ends_on"]) == old_end.replace(year=old_end.year + 2)
    inbox = eventually(lambda: call("GET", url("notifications") + "/api/notifications/v1/inbox", lead).json())
    assert any(application["id"] in (n["title"] + n.get("body", "")) for n in inbox), inbox
    return decided


def assert_no_personal_data_on_streams(redis_url: str) -> int:
    """Scan every key; every stream entry must be free of the canary name, birth date and note."""
    client = redis_sync.Redis.from_url(redis_url)
    seen = 0
    try:
        for key in client.scan_iter(count=1000):
            if client.type(key) != b"stream":
                continue
            for _, fields in client.xrange(key):
                blob = json.dumps({k.decode(): v.decode(errors="replace") for k, v in fields.items()})
                seen += 1
                for canary in (CANARY_NAME, CANARY_FAMILY, CANARY_BIRTH, CANARY_NOTE, "B1 course"):
                    assert canary not in blob, f"{canary!r} found on stream {key!r}"
    finally:
        client.close()
    assert seen > 0
    return seen
