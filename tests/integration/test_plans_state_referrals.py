"""Referrals at the state: PlanReferralChanged as the federation delivers it, counted by partner type."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis import Redis
from sqlmodel import select

from services.plans.state.models import StateReferral
from shared.events.plans import PartnerType, PlanReferralChanged, StepStatus
from tests.integration.test_plans_state import API, inbound, officer, pseudonym, settled
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans", level="state")


def referral(step: str, case: str, partner: str, status: str, version: int) -> PlanReferralChanged:
    return PlanReferralChanged(plan_id=f"plan-{case}", case_id=case, goal_id=f"goal-{case}", step_id=step,
                               manager="m1", area="work", partner_type=PartnerType(partner),  # type: ignore[arg-type]
                               status=StepStatus(status), plan_version=version)


def test_referrals_are_counted_by_partner_type_with_small_cells_withheld(state: NodeHandle, redis: Redis) -> None:
    for n in range(7):
        inbound(redis, referral(f"s{n}", f"c{n}", "jobcenter", "referred", 2), node="n1", tenant=STUTTGART)
    inbound(redis, referral("s0", "c0", "jobcenter", "accepted", 3), node="n1", tenant=STUTTGART)
    inbound(redis, referral("s0", "c0", "jobcenter", "declined", 1), node="n1", tenant=STUTTGART)  # older
    inbound(redis, referral("h1", "hc", "language_course_provider", "referred", 2), node="n2", tenant=HEIDELBERG)
    eventually(lambda: settled(redis))
    r = state.client.get(f"{API}/statistics/referrals", headers=officer(state))
    assert r.status_code == 200, r.text
    body = r.json()
    cells = {(c["partner_type"], c["status"]): (c["count"], c["suppressed"]) for c in body["cells"]}
    assert cells["jobcenter", "referred"] == (6, False)
    assert cells["jobcenter", "accepted"] == (None, True)
    assert cells["language_course_provider", "referred"] == (None, True)
    assert cells["jobcenter", "declined"] == (0, False)
    totals = {c["partner_type"]: (c["count"], c["suppressed"]) for c in body["by_partner_type"]}
    assert totals["jobcenter"] == (None, True)  # 7 - 6 would give the withheld cell back
    assert body["clients"] == {"count": 8, "suppressed": False}
    one = state.client.get(f"{API}/statistics/referrals?tenant={HEIDELBERG}", headers=officer(state)).json()
    assert one["tenant"] == HEIDELBERG and one["total"] == {"count": None, "suppressed": True}
    # the state knows each step only by its node's pseudonym
    with state.node.contexts["plans"].database.session() as s:
        steps = {r.step_pseudonym for r in s.exec(select(StateReferral)).all()}
    assert pseudonym("s0") in steps and "s0" not in steps
    manager_token = state.headers("m1", "manager")
    assert state.client.get(f"{API}/statistics/referrals", headers=manager_token).status_code == 403
