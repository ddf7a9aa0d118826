"""Canary scan on both levels for the plan: goal titles, step texts and agreements never reach a stream, a key or
an AOF of the municipal or state server; the state counts the referral by its partner type only."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_sync
from sqlmodel import select

from services.plans.state.models import StateReferral
from shared import clock
from tests.integration.test_cases_canary import levels  # noqa: F401 (the two-level fixture, by name)
from tests.integration.test_cases_service import everything_in_redis
from tests.nodes import eventually

STUTTGART = "08111000"
CANARIES = ("Goal-Canary-Title", "Step-Canary-Text", "Referral-Canary-Text", "Edited-Canary-Title")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_plan_contents_leave_nothing_on_either_level(request: pytest.FixtureRequest) -> None:
    muni, state, muni_srv, state_srv = request.getfixturevalue("levels")
    m1 = muni.headers("m1", "manager", tenants=[STUTTGART])
    case = ok(muni.client.post("/api/cases/v1/cases", headers=m1, json={
        "given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-03-27", "nationality": "SYR",
        "languages": ["ar"], "household_size": 1, "eligibility": "follow_up_accommodation",
        "accommodation_since": "2025-09-01"}), 201)
    api = "/api/plans/v1"
    plan = eventually(lambda: (r := muni.client.get(f"{api}/plans", headers=m1, params={"case_id": case["id"]}))
                      .status_code == 200 and r.json())
    base = f"{api}/plans/{plan['id']}"
    goal = ok(muni.client.post(f"{base}/goals", headers=m1, json={
        "area": "work", "title": "Goal-Canary-Title", "target_date": "2027-06-30"}), 201)
    steps = f"{base}/goals/{goal['id']}/steps"
    ok(muni.client.post(steps, headers=m1, json={"what": "Step-Canary-Text", "who": "client"}), 201)
    referral = ok(muni.client.post(steps, headers=m1, json={
        "what": "Referral-Canary-Text", "who": "partner", "partner_type": "jobcenter"}), 201)
    ok(muni.client.post(f"{base}/agreements", headers=m1, json={
        "agreed_on": clock.today().isoformat(), "language": "ar", "signed_on_paper": True}), 201)
    ok(muni.client.patch(f"{base}/goals/{goal['id']}", headers=m1, json={
        "title": "Edited-Canary-Title", "target_date": "2027-12-31"}))
    ok(muni.client.patch(f"{steps}/{referral['id']}", headers=m1, json={"status": "accepted"}))

    def arrived() -> StateReferral | None:
        with state.node.contexts["plans"].database.session() as s:
            row = s.exec(select(StateReferral).where(StateReferral.tenant == STUTTGART)).first()
            return row if row is not None and row.status == "accepted" else None

    known = eventually(arrived, timeout=30)
    assert (known.partner_type, known.area, len(known.step_pseudonym)) == ("jobcenter", "work", 64)
    for name, srv in (("municipal", muni_srv), ("state", state_srv)):
        client = redis_sync.Redis.from_url(srv.url)
        try:
            held = b"\n".join(everything_in_redis(client))
        finally:
            client.close()
        assert b"PlanReferralChanged" in held, name  # the scan sees the events
        assert (b"PlanGoalRescheduled" in held) == (name == "municipal")  # local events stay home
        aof = b"\n".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
        for canary in CANARIES:
            assert canary.encode() not in held, (name, canary)
            assert canary.encode() not in aof, (name, canary)
