"""The plan as an agreement on a real node: steps, agreement, a new draft, history, the review reminder
across a restart with a controlled clock, a reassigned case, referrals counted at the state."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from services.notifications import scheduler
from services.notifications.app import service as notifications_service
from services.plans.app import service as plans_service
from shared import clock
from shared.events import STREAMS
from shared.events.cases import CaseReassigned, CounsellingPeriodSet
from shared.runtime.embedded import EmbeddedServer
from tests.integration.notifications_support import settled
from tests.integration.test_plans_service import API, CasesOutbox, manager, plan_for, plans_events
from tests.nodes import NodeHandle, eventually, running_node

TODAY = clock.today()


def post(node: NodeHandle, path: str, as_: dict[str, str], body: dict[str, Any], method: str = "POST") -> Any:
    r = node.client.request(method, f"{API}{path}", headers=as_, json=body)
    assert r.status_code in (200, 201), (path, r.text)
    return r.json()


def inbox(node: NodeHandle, as_: dict[str, str]) -> list[dict[str, Any]]:
    r = node.client.get("/api/notifications/v1/inbox", headers=as_)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def of_kind(node: NodeHandle, as_: dict[str, str], kind: str) -> list[dict[str, Any]]:
    return [n for n in inbox(node, as_) if n["kind"] == kind]


def test_agree_change_history_and_the_review_reminder_across_a_restart(
        valkey: EmbeddedServer, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.runtime.node.discover",
                        lambda: {"plans": plans_service, "notifications": notifications_service})
    cases = CasesOutbox(tmp_path, valkey.url)
    review_on = TODAY + timedelta(days=40)
    with running_node(tmp_path / "n", valkey.url, services=["plans", "notifications"]) as node:
        as_m1 = manager(node)
        opened = cases.open("m1")
        pid = plan_for(node, opened, as_m1)["id"]
        goal = post(node, f"/plans/{pid}/goals", as_m1, {"area": "language", "title": "Deutschkurs B1"})
        own = post(node, f"/plans/{pid}/goals/{goal['id']}/steps", as_m1,
                   {"what": "Beim Kursträger anmelden", "who": "client", "due_on": review_on.isoformat()})
        referral = post(node, f"/plans/{pid}/goals/{goal['id']}/steps", as_m1,
                        {"what": "Termin bei der VHS Stuttgart", "who": "partner",
                         "partner_type": "language_course_provider"})
        agreement = post(node, f"/plans/{pid}/agreements", as_m1,
                         {"agreed_on": TODAY.isoformat(), "language": "ar", "signed_on_paper": True,
                          "review_on": review_on.isoformat()})
        assert (agreement["number"], agreement["signed_on_paper"]) == (1, True)
        post(node, f"/plans/{pid}/goals/{goal['id']}/steps/{referral['id']}", as_m1, {"status": "accepted"},
             method="PATCH")
        plan = node.client.get(f"{API}/plans/{pid}", headers=as_m1).json()
        assert (plan["agreement_version"], plan["agreed_version"], plan["review_on"]) == (2, 1, review_on.isoformat())
        assert [s["id"] for s in plan["goals"][0]["steps"]] == [own["id"], referral["id"]]
        history = node.client.get(f"{API}/plans/{pid}/versions", headers=as_m1).json()
        assert [(v["number"], v["status"]) for v in history] == [(1, "agreed"), (2, "draft")]
        one = node.client.get(f"{API}/plans/{pid}/versions/1", headers=as_m1).json()
        assert [s["status"] for s in one["goals"][0]["steps"]] == ["open", "referred"]
        assert one["agreement"]["language"] == "ar"
        two = node.client.get(f"{API}/plans/{pid}/versions/2", headers=as_m1).json()
        assert [s["status"] for s in two["goals"][0]["steps"]] == ["open", "accepted"]
        assert node.client.get(f"{API}/plans/{pid}/versions/3", headers=as_m1).status_code == 404
        # not before its day: the reminder waits for 14 days before the review
        eventually(lambda: any(e.type == "PlanReviewScheduled" for e in plans_events(redis)))
        assert of_kind(node, as_m1, "plan_review_due") == []

    # after a restart on the same data, with the clock at two weeks before the review
    monkeypatch.setattr(scheduler, "today", lambda: review_on - timedelta(days=14))
    with running_node(tmp_path / "n", valkey.url, services=["plans", "notifications"]) as node:
        [reminder] = eventually(lambda: of_kind(node, as_m1, "plan_review_due"))
        assert reminder["data"] == {"case_id": opened.payload["case_id"], "plan_id": pid,
                                    "review_on": review_on.isoformat()}
    # what went onto the bus carries no goal title and no step text
    raw = json.dumps([e.model_dump(mode="json") for e in plans_events(redis)])
    assert "Deutschkurs" not in raw and "Kursträger" not in raw and "VHS" not in raw
    referrals = [e for e in plans_events(redis) if e.type == "PlanReferralChanged"]
    assert [(e.payload["partner_type"], e.payload["status"]) for e in referrals] == [
        ("language_course_provider", "referred"), ("language_course_provider", "accepted")]


def test_a_reassigned_case_takes_plan_and_reminders_to_the_new_manager(
        valkey: EmbeddedServer, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.runtime.node.discover",
                        lambda: {"plans": plans_service, "notifications": notifications_service})
    cases = CasesOutbox(tmp_path, valkey.url)
    ends_on = TODAY + timedelta(days=300)
    with running_node(tmp_path / "n", valkey.url, services=["plans", "notifications"]) as node:
        opened = cases.open("m1")
        case_id = opened.payload["case_id"]
        pid = plan_for(node, opened, manager(node))["id"]
        cases.send(CounsellingPeriodSet(case_id=case_id, manager="m1", ends_on=ends_on))
        cases.send(CaseReassigned(case_id=case_id, previous_manager="m1", manager="m2", reassigned_on=TODAY))
        eventually(lambda: node.client.get(f"{API}/plans/{pid}", headers=manager(node, "m2")).status_code == 200)
        assert node.client.get(f"{API}/plans/{pid}", headers=manager(node)).status_code == 404
        eventually(lambda: settled(redis, STREAMS["cases"]))  # notifications has moved the reminder too
        monkeypatch.setattr(scheduler, "today", lambda: ends_on - timedelta(days=60))
        [n] = eventually(lambda: of_kind(node, manager(node, "m2"), "counselling_ends"))
        assert n["data"]["ends_on"] == ends_on.isoformat() and n["recipient_sub"] == "m2"
        assert of_kind(node, manager(node), "counselling_ends") == []


def test_a_closed_case_is_not_reminded_of_its_counselling_end(
        valkey: EmbeddedServer, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.runtime.node.discover", lambda: {"notifications": notifications_service})
    cases = CasesOutbox(tmp_path, valkey.url)
    ends_on = TODAY + timedelta(days=100)
    with running_node(tmp_path / "n", valkey.url, services=["notifications"]) as node:
        opened = cases.open("m1")
        cases.send(CounsellingPeriodSet(case_id=opened.payload["case_id"], manager="m1", ends_on=ends_on))
        cases.close(opened.payload["case_id"])
        eventually(lambda: settled(redis, STREAMS["cases"]))
        monkeypatch.setattr(scheduler, "today", lambda: ends_on - timedelta(days=60))
        time.sleep(1.0)  # five scheduler ticks
        assert of_kind(node, manager(node), "counselling_ends") == []
        assert [n["kind"] for n in inbox(node, manager(node))] == ["case_opened"]
