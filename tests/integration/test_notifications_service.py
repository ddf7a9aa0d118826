"""The notifications service on a real municipal node: rules, inboxes, the overdue scheduler, e-mail."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from redis import Redis

from services.notifications import scheduler
from services.notifications.app import service as notifications_service
from services.notifications.models import GoalWatch, Notification, OutgoingMail, ReadReceipt
from shared.bus import OutboxEvent
from shared.events import STREAMS, Contract, Envelope, envelope_for, new_event_id
from shared.events.cases import CaseOpened
from shared.events.codes import GoalStatus, Topic
from shared.events.funding import ExtensionDecided
from shared.events.plans import PlanGoalAdded, PlanGoalRescheduled, PlanGoalStatusChanged
from shared.runtime.embedded import EmbeddedServer
from tests.integration.notifications_support import (
    API,
    Collector,
    count,
    free_port,
    inbox,
    rows,
    settled,
    smtp_server,
    token,
)
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually, running_node

TODAY = scheduler.today()
LEAD_MAILBOX = "lead@stuttgart.example"


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("notifications")


def publish(redis: Redis, stream: str, payload: Contract, *, tenant: str = STUTTGART,
            aggregate_id: str = "agg-1", env: Envelope | None = None) -> Envelope:
    """Append an event as its producer's relay would (or re-append the same envelope)."""
    env = env or envelope_for(payload, tenant=tenant, node="state", aggregate_id=aggregate_id)
    redis.xadd(stream, {"event": env.to_json()})
    return env


def decision(redis: Redis, *, tenant: str = STUTTGART, approved: bool = True) -> Envelope:
    payload = ExtensionDecided(application_id=new_event_id(), position_id=new_event_id(),
                               approved=approved, decided_on=TODAY, reason="Haushaltsmittel")
    return publish(redis, STREAMS["federation"], payload, tenant=tenant,
                   aggregate_id=payload.position_id)


def goal_added(redis: Redis, goal_id: str, *, due: date | None, manager: str = "m-1",
               version: int = 1) -> Envelope:
    payload = PlanGoalAdded(plan_id="plan-1", case_id="case-1", goal_id=goal_id, manager=manager,
                            area=Topic.language, target_date=due, plan_version=version)
    return publish(redis, STREAMS["plans"], payload, aggregate_id="plan-1")


def goal_status(redis: Redis, goal_id: str, status: str, *, version: int,
                previous: str = "open") -> Envelope:
    payload = PlanGoalStatusChanged(plan_id="plan-1", case_id="case-1", goal_id=goal_id,
                                    manager="m-1", area=Topic.language,
                                    previous_status=GoalStatus(previous), status=GoalStatus(status),
                                    plan_version=version)
    return publish(redis, STREAMS["plans"], payload, aggregate_id="plan-1")


def lead(node: NodeHandle, tenant: str = STUTTGART, sub: str | None = None) -> dict[str, str]:
    return node.headers(sub or f"lead-{tenant}", "lead", tenants=[tenant])


def manager(node: NodeHandle, sub: str = "m-1", tenant: str = STUTTGART) -> dict[str, str]:
    return node.headers(sub, "manager", tenants=[tenant])


# -- rules and inboxes over HTTP ----------------------------------------------------------------
def test_extension_decision_reaches_the_tenants_leads_once(node: NodeHandle, redis: Redis) -> None:
    env = decision(redis, approved=True)
    publish(redis, STREAMS["federation"], ExtensionDecided.model_validate(env.payload), env=env)
    rejected = decision(redis, tenant=HEIDELBERG, approved=False)
    decision(redis, tenant=MANNHEIM)  # not a tenant of this node: nobody's business here
    eventually(lambda: settled(redis, STREAMS["federation"]))

    [seen] = inbox(node, lead(node))
    position, application = env.payload["position_id"], env.payload["application_id"]
    assert seen["kind"] == "extension_decided" and seen["tenant"] == STUTTGART
    assert seen["recipient_role"] == "lead" and seen["source"] == env.event_id
    assert seen["title"] == f"Extension approved for position {position}"
    assert application in seen["body"] and "Haushaltsmittel" not in seen["body"]
    assert seen["read_at"] is None
    # the same envelope twice: one notification; Mannheim's decision: none
    assert len(rows(node, Notification)) == 2
    # a manager of the same tenant and a lead of the other tenant do not see it
    assert inbox(node, manager(node)) == []
    [other] = inbox(node, lead(node, HEIDELBERG))
    assert other["source"] == rejected.event_id and other["title"].startswith("Extension rejected")
    both = node.headers("lead-both", "lead", tenants=[STUTTGART, HEIDELBERG])
    assert [n["id"] for n in inbox(node, both)] == [other["id"], seen["id"]]  # newest first
    # no SMTP server configured: the mail rows exist and stay skipped
    assert {m.state for m in rows(node, OutgoingMail)} == {"skipped"}


def test_reading_marks_per_reader_and_hides_others_notifications(node: NodeHandle,
                                                                 redis: Redis) -> None:
    decision(redis)
    publish(redis, STREAMS["cases"], CaseOpened(case_id="case-7", manager="m-1",
                                                opened_on=TODAY, household_size=3))
    eventually(lambda: len(rows(node, Notification)) == 2)
    [confirmation] = inbox(node, manager(node))
    assert confirmation["kind"] == "case_opened" and confirmation["recipient_sub"] == "m-1"
    assert "case-7" in confirmation["title"]
    assert inbox(node, manager(node, "m-2")) == []
    [announcement] = inbox(node, lead(node))

    read = node.client.post(f"{API}/inbox/{announcement['id']}/read", headers=lead(node))
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = node.client.post(f"{API}/inbox/{announcement['id']}/read", headers=lead(node))
    assert again.json()["read_at"] == read.json()["read_at"]  # the first read counts
    assert inbox(node, lead(node), unread="true") == []
    assert inbox(node, lead(node))[0]["read_at"] == read.json()["read_at"]
    # a second lead of the same municipality still has it unread
    assert [n["id"] for n in inbox(node, lead(node, sub="lead-2"), unread=True)] == [
        announcement["id"]]

    # another user's, another tenant's and a missing notification answer alike: 404
    missing = new_event_id()
    before = count(node, ReadReceipt)
    for nid, as_ in [(confirmation["id"], manager(node, "m-2")),
                     (confirmation["id"], lead(node)),
                     (announcement["id"], manager(node)),
                     (announcement["id"], lead(node, HEIDELBERG)),
                     (confirmation["id"], node.headers("m-1", "manager", tenants=[HEIDELBERG])),
                     (missing, lead(node))]:
        r = node.client.post(f"{API}/inbox/{nid}/read", headers=as_)
        assert r.status_code == 404, (nid, as_)
        assert r.json() == {"detail": [{"field": "notification_id",
                                        "reason": "no such notification"}]}
    assert count(node, ReadReceipt) == before


def test_authentication_and_bad_input(node: NodeHandle, redis: Redis) -> None:
    decision(redis)
    eventually(lambda: rows(node, Notification))
    nid = rows(node, Notification)[0].id
    calls = [("GET", f"{API}/inbox"), ("POST", f"{API}/inbox/{nid}/read")]
    roleless = token(node, "x", "janitor", tenants=[STUTTGART])  # no role Lotse knows
    for method, path in calls:
        assert node.client.request(method, path).status_code == 401
        assert node.client.request(method, path, headers={
            "Authorization": "Bearer not-a-token"}).status_code == 401
        assert node.client.request(method, path, headers=roleless).status_code == 403
    for role in ("manager", "lead", "node_admin", "funding_officer", "state_operator"):
        assert node.client.get(f"{API}/inbox", headers=node.headers("u", role)).status_code == 200

    as_lead = lead(node)
    for params, field in [({"limit": 0}, "limit"), ({"limit": 10000}, "limit"),
                          ({"limit": "x"}, "limit"), ({"limit": "1" * 5000}, "limit"),
                          ({"unread": "maybe"}, "unread")]:
        r = node.client.get(f"{API}/inbox", headers=as_lead, params=params)
        assert r.status_code == 422, params
        assert [d["field"] for d in r.json()["detail"]] == [field], r.text
    assert len(inbox(node, as_lead, limit=1)) == 1 and len(inbox(node, as_lead, limit=200)) == 1
    for bad in ["x", "0" * 27, "x" * 60_000, nid.lower()]:
        r = node.client.post(f"{API}/inbox/{bad}/read", headers=as_lead)
        assert r.status_code == 422, bad
        assert [d["field"] for d in r.json()["detail"]] == ["notification_id"]
    assert count(node, ReadReceipt) == 0 and count(node, OutboxEvent) == 0


# -- the overdue scheduler ----------------------------------------------------------------------
def overdue(node: NodeHandle) -> list[Notification]:
    return rows(node, Notification, Notification.kind == "goal_overdue")


def test_overdue_goals_notify_once_across_restarts(valkey: EmbeddedServer, redis: Redis,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Three nodes one after the other on the same data: each is stopped before the next starts.
    monkeypatch.setattr("shared.runtime.node.discover",
                        lambda: {"notifications": notifications_service})
    tomorrow = TODAY + timedelta(days=1)
    with running_node(tmp_path, valkey.url, services=["notifications"]) as node:
        goal_added(redis, "g-past", due=TODAY - timedelta(days=3))
        goal_added(redis, "g-later", due=tomorrow, manager="m-2")
        goal_added(redis, "g-done", due=tomorrow)
        goal_status(redis, "g-done", "achieved", version=4)
        goal_added(redis, "g-undated", due=None)
        goal_added(redis, "g-past", due=TODAY - timedelta(days=1), version=9)  # repeated: no-op
        eventually(lambda: overdue(node))
        [past] = overdue(node)
        assert past.recipient_sub == "m-1" and past.source == f"g-past@{TODAY - timedelta(days=3)}"
        since = (TODAY - timedelta(days=2)).isoformat()
        assert past.title == "Goal g-past is overdue"
        assert f"of plan plan-1 is overdue since {since}" in past.body
        [mine] = inbox(node, manager(node), limit=5)
        assert mine["id"] == past.id
        eventually(lambda: settled(redis, STREAMS["plans"]))
        watches = {w.goal_id: w.state for w in rows(node, GoalWatch)}
        assert watches == {"g-past": "fired", "g-later": "watching", "g-done": "ended"}

    # two days on, after a restart on the same data: the later goal is overdue, the rest unchanged
    monkeypatch.setattr(scheduler, "today", lambda: TODAY + timedelta(days=2))
    with running_node(tmp_path, valkey.url, services=["notifications"]) as node:
        eventually(lambda: len(overdue(node)) == 2)
        time.sleep(1.0)  # five scheduler ticks
        assert sorted(goal_of(n.source) for n in overdue(node)) == ["g-later", "g-past"]
        assert [n["data"]["goal_id"] for n in inbox(node, manager(node, "m-2"))] == ["g-later"]
        assert [n["data"]["goal_id"] for n in inbox(node, manager(node))] == ["g-past"]

    with running_node(tmp_path, valkey.url, services=["notifications"]) as node:
        time.sleep(1.0)
        assert len(overdue(node)) == 2
        # reopening an achieved goal re-arms its watch; an overdue one has its single notification
        goal_status(redis, "g-done", "in_progress", version=5, previous="achieved")
        goal_status(redis, "g-past", "achieved", version=10)
        goal_status(redis, "g-past", "open", version=11, previous="achieved")
        goal_status(redis, "g-done", "achieved", version=3)  # older than what we know: ignored
        eventually(lambda: len(overdue(node)) == 3)
        time.sleep(1.0)
        assert sorted(goal_of(n.source) for n in overdue(node)) == ["g-done", "g-later", "g-past"]
        assert {w.goal_id: w.state for w in rows(node, GoalWatch)} == {
            "g-past": "fired", "g-later": "fired", "g-done": "fired"}


def goal_of(source: str) -> str:
    """The goal an overdue notification is about: its source is the goal id and the target date."""
    return source.rsplit("@", 1)[0]


def goal_rescheduled(redis: Redis, goal_id: str, *, due: date | None, version: int) -> Envelope:
    return publish(redis, STREAMS["plans"], PlanGoalRescheduled(
        plan_id="plan-1", case_id="case-1", goal_id=goal_id, manager="m-1", area=Topic.work,
        status=GoalStatus.open, target_date=due, plan_version=version))


def test_a_rescheduled_goal_is_overdue_again_at_its_new_date_only(node: NodeHandle, redis: Redis,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    goal_added(redis, "g-moved", due=TODAY - timedelta(days=1))
    eventually(lambda: len(overdue(node)) == 1)
    later = TODAY + timedelta(days=20)
    goal_rescheduled(redis, "g-moved", due=later, version=3)
    goal_rescheduled(redis, "g-moved", due=TODAY - timedelta(days=9), version=2)  # older: ignored
    eventually(lambda: settled(redis, STREAMS["plans"]))
    time.sleep(1.0)  # five scheduler ticks: the new date has not come
    assert len(overdue(node)) == 1
    monkeypatch.setattr(scheduler, "today", lambda: later + timedelta(days=1))
    eventually(lambda: len(overdue(node)) == 2)
    [newest, _] = inbox(node, manager(node))
    assert newest["kind"] == "goal_overdue" and newest["data"] == {
        "goal_id": "g-moved", "plan_id": "plan-1", "case_id": "case-1", "area": "language", "status": "open",
        "due_on": later.isoformat(), "overdue_since": (later + timedelta(days=1)).isoformat()}
    goal_rescheduled(redis, "g-moved", due=None, version=4)  # no date any more: no more watching
    eventually(lambda: rows(node, GoalWatch)[0].state == "ended")


def test_goal_achieved_before_its_date_is_never_overdue(node: NodeHandle, redis: Redis,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    goal_added(redis, "g-early", due=TODAY + timedelta(days=5))
    goal_status(redis, "g-early", "in_progress", version=2)
    goal_status(redis, "g-early", "achieved", version=3, previous="in_progress")
    eventually(lambda: settled(redis, STREAMS["plans"]))
    monkeypatch.setattr(scheduler, "today", lambda: TODAY + timedelta(days=30))
    time.sleep(1.0)
    assert overdue(node) == [] and inbox(node, manager(node)) == []


# -- e-mail over a real SMTP server -------------------------------------------------------------
def test_mail_is_sent_once_with_a_deterministic_message_id(start_node: Callable[..., NodeHandle],
                                                           redis: Redis) -> None:
    collector, port = Collector(), free_port()
    with smtp_server(collector, port):
        node = start_node("notifications", smtp_host="127.0.0.1", smtp_port=port,
                          smtp_sender="lotse@node.example",
                          mailboxes={f"{STUTTGART}:lead": LEAD_MAILBOX})
        env = decision(redis)
        decision(redis, tenant=HEIDELBERG)  # Heidelberg's lead has no mailbox
        publish(redis, STREAMS["cases"], CaseOpened(case_id="case-9", manager="m-1",
                                                    opened_on=TODAY, household_size=1))
        eventually(lambda: collector.messages)
        eventually(lambda: settled(redis, STREAMS["federation"]))
        eventually(lambda: settled(redis, STREAMS["cases"]))
        time.sleep(1.5)  # more sender ticks: nothing is sent again
        [(rcpt, msg)] = collector.messages
        [n] = rows(node, Notification, Notification.source == env.event_id)
        assert rcpt == [LEAD_MAILBOX] and msg["To"] == LEAD_MAILBOX
        assert msg["From"] == "lotse@node.example"
        assert msg["Message-ID"] == f"<notification-{n.id}@test-node.lotse>"
        assert msg["Subject"] == n.title and n.body in msg.get_content()
        states = {m.notification_id: (m.state, m.recipient, m.last_error)
                  for m in rows(node, OutgoingMail)}
        assert len(states) == 3
        assert states[n.id] == ("sent", LEAD_MAILBOX, None)
        assert sorted(s[2] for k, s in states.items() if k != n.id) == [
            f"no mailbox for {HEIDELBERG}:lead", "no mailbox for m-1"]


def test_mail_is_retried_with_backoff_until_the_server_answers(
        start_node: Callable[..., NodeHandle], redis: Redis) -> None:
    collector, port = Collector(), free_port()
    node = start_node("notifications", smtp_host="127.0.0.1", smtp_port=port,
                      mailboxes={f"{STUTTGART}:lead": LEAD_MAILBOX})
    decision(redis)
    # two attempts failed and the mail waits for its third (attempts count at claim time)
    failing = eventually(lambda: (m := rows(node, OutgoingMail)) and m[0].attempts >= 2
                         and m[0].state == "pending" and m)
    mail = failing[0]
    assert "refused" in (mail.last_error or "").lower() and mail.next_attempt_at is not None
    assert collector.messages == []
    with smtp_server(collector, port):
        eventually(lambda: collector.messages, timeout=20)
        time.sleep(1.5)
        [(_, msg)] = collector.messages
        [sent] = rows(node, OutgoingMail)
        assert sent.state == "sent" and sent.attempts >= 3
        assert msg["Message-ID"] == f"<notification-{sent.notification_id}@test-node.lotse>"
