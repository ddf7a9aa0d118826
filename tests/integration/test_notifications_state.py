"""The notifications service on a real state node: silent-node alerts, statewide inboxes, e-mail."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from sqlalchemy import inspect

from services.notifications import scheduler
from services.notifications.app import service as notifications_service
from services.notifications.models import GoalWatch, Notification, OutgoingMail, ReadReceipt
from shared.bus import OutboxEvent
from shared.events import STREAMS, Contract, Envelope, envelope_for, new_event_id
from shared.events.cases import CaseOpened
from shared.events.codes import Topic
from shared.events.federation import NodeSilent
from shared.events.funding import ExtensionDecided
from shared.events.plans import PlanGoalAdded
from shared.federation.keys import STATE_TENANT
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
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

OPS_MAILBOX = "ops@state.example"
SEEN = datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("notifications", level="state")


def publish(redis: Redis, stream: str, env: Envelope) -> Envelope:
    redis.xadd(stream, {"event": env.to_json()})
    return env


def silent(redis: Redis, node_id: str = "node-b", *, minutes: int = 12,
           last_seen: datetime | None = SEEN, origin: str = "state",
           tenant: str = STATE_TENANT) -> Envelope:
    """The state's own watchdog alert, as the federation component emits it."""
    payload = NodeSilent(node_id=node_id, silent_for_s=minutes * 60 + 7,
                         last_seen_at=last_seen.isoformat() if last_seen else None)
    return publish(redis, STREAMS["federation"],
                   envelope_for(payload, tenant=tenant, node=origin, aggregate_id=node_id))


def inbound(redis: Redis, stream: str, payload: Contract, *, tenant: str = STUTTGART,
            origin: str = "node-a", aggregate_id: str = "agg-1") -> Envelope:
    """An event from a municipal node, republished by the state ingest as its state projection."""
    projected = type(payload).model_validate(
        payload.state_projection(lambda s: hashlib.sha256(s.encode()).hexdigest()))
    return publish(redis, stream, envelope_for(projected, tenant=tenant, node=origin,
                                               aggregate_id=aggregate_id))


def groups(redis: Redis, stream: str) -> set[bytes]:
    return {g["name"] for g in redis.xinfo_groups(stream)} if redis.exists(stream) else set()


# -- silent nodes reach the state operators -----------------------------------------------------
def test_a_silent_node_alerts_every_state_operator_once(node: NodeHandle, redis: Redis) -> None:
    env = publish(redis, STREAMS["federation"], silent(redis))  # delivered twice
    never = silent(redis, "node-c", minutes=5, last_seen=None)
    silent(redis, "node-x", origin="node-a")  # not the state's own watchdog: ignored
    silent(redis, "node-y", tenant=STUTTGART)  # not a state notice: ignored
    eventually(lambda: settled(redis, STREAMS["federation"]))

    operator = node.headers("op-1", "state_operator", tenants=[STATE_TENANT])
    newest, first = inbox(node, operator)
    assert len(rows(node, Notification)) == 2
    assert first["kind"] == "node_silent" and first["source"] == env.event_id
    assert first["tenant"] == STATE_TENANT and first["recipient_role"] == "state_operator"
    assert first["title"] == "node node-b silent for 12 min"
    assert first["body"].startswith(
        "node node-b silent for 12 min (last seen 2025-03-04 10:15 UTC)")
    assert newest["source"] == never.event_id
    assert newest["body"].startswith("node node-c silent for 5 min (last seen never)")
    # statewide: other tenants in the token do not narrow it; a funding officer is not an operator
    for tenants in ([STATE_TENANT], [STUTTGART, STATE_TENANT], [HEIDELBERG, STATE_TENANT]):
        seen = inbox(node, token(node, "op-2", "state_operator", tenants=tenants))
        assert [n["id"] for n in seen] == [newest["id"], first["id"]], tenants
    assert inbox(node, node.headers("fo-1", "funding_officer", tenants=[STATE_TENANT])) == []
    both = token(node, "fo-2", "funding_officer", "state_operator", tenants=[STATE_TENANT])
    assert len(inbox(node, both)) == 2
    # no SMTP server configured: the mail rows exist and stay skipped
    assert {m.state for m in rows(node, OutgoingMail)} == {"skipped"}


def test_state_inbox_reading_and_authorisation(node: NodeHandle, redis: Redis) -> None:
    silent(redis)
    eventually(lambda: rows(node, Notification))
    [alert] = rows(node, Notification)
    operator = token(node, "op-1", "state_operator", tenants=[STATE_TENANT])
    read = node.client.post(f"{API}/inbox/{alert.id}/read", headers=operator)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert inbox(node, operator, unread=True) == []
    other = node.headers("op-2", "state_operator", tenants=[STATE_TENANT])
    assert [n["id"] for n in inbox(node, other, unread=True)] == [alert.id]  # read per person

    officer = node.headers("fo-1", "funding_officer", tenants=[STATE_TENANT])
    r = node.client.post(f"{API}/inbox/{alert.id}/read", headers=officer)
    assert r.status_code == 404 and r.json()["detail"][0]["field"] == "notification_id"
    missing = node.client.post(f"{API}/inbox/{new_event_id()}/read", headers=operator)
    assert missing.status_code == 404 and missing.json() == r.json()
    # municipal roles have no inbox on the state node; no token is 401
    for role in ("manager", "lead", "node_admin"):
        as_ = node.headers("u", role, tenants=[STATE_TENANT])
        assert node.client.get(f"{API}/inbox", headers=as_).status_code == 403, role
        assert node.client.post(f"{API}/inbox/{alert.id}/read", headers=as_).status_code == 403
    assert node.client.get(f"{API}/inbox").status_code == 401
    assert node.client.post(f"{API}/inbox/{alert.id}/read").status_code == 401
    for bad in ["x", "x" * 60_000, alert.id.lower()]:
        r = node.client.post(f"{API}/inbox/{bad}/read", headers=operator)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "notification_id"
    r = node.client.get(f"{API}/inbox", headers=operator, params={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "limit"
    assert count(node, ReadReceipt) == 1 and count(node, OutboxEvent) == 0


def test_municipal_rules_are_off_at_state_level(node: NodeHandle, redis: Redis) -> None:
    today = scheduler.today()
    decided = ExtensionDecided(application_id=new_event_id(), position_id=new_event_id(),
                               approved=True, decided_on=today)
    publish(redis, STREAMS["federation"], envelope_for(decided, tenant=STUTTGART, node="state",
                                                       aggregate_id=decided.position_id))
    inbound(redis, STREAMS["cases"], CaseOpened(case_id="case-1", manager="m-1", opened_on=today,
                                                household_size=2))
    inbound(redis, STREAMS["plans"], PlanGoalAdded(
        plan_id="plan-1", case_id="case-1", goal_id="g-1", manager="m-1", area=Topic.work,
        target_date=today - timedelta(days=3), plan_version=1))
    last = silent(redis)  # after the others on the federation stream
    eventually(lambda: settled(redis, STREAMS["federation"]))
    assert [n.source for n in rows(node, Notification)] == [last.event_id]
    # no consumer group of ours on the municipal streams, no goal watches, no overdue checker
    assert b"notifications" not in groups(redis, STREAMS["cases"]) | groups(redis, STREAMS["plans"])
    ctx = node.node.contexts["notifications"]
    # the state level creates only its own tables: not even a table for a stray watch
    assert GoalWatch.__tablename__ not in inspect(ctx.database.engine).get_table_names()
    assert notifications_service.state.background(ctx) == []
    time.sleep(1.0)  # five scheduler intervals
    assert [n.kind for n in rows(node, Notification)] == ["node_silent"]


# -- e-mail over a real SMTP server -------------------------------------------------------------
def test_alert_is_mailed_once_to_the_state_operators_mailbox(
        start_node: Callable[..., NodeHandle], redis: Redis) -> None:
    collector, port = Collector(), free_port()
    with smtp_server(collector, port):
        node = start_node("notifications", level="state", smtp_host="127.0.0.1", smtp_port=port,
                          smtp_sender="lotse@state.example",
                          mailboxes={f"{STATE_TENANT}:state_operator": OPS_MAILBOX})
        env = publish(redis, STREAMS["federation"], silent(redis, "node-b", minutes=45))
        eventually(lambda: collector.messages)
        eventually(lambda: settled(redis, STREAMS["federation"]))
        time.sleep(1.5)  # more sender ticks: nothing is sent again
        [(rcpt, msg)] = collector.messages
        [n] = rows(node, Notification)
        assert n.source == env.event_id
        assert rcpt == [OPS_MAILBOX] and msg["To"] == OPS_MAILBOX
        assert msg["From"] == "lotse@state.example"
        assert msg["Subject"] == "node node-b silent for 45 min"
        assert msg["Message-ID"] == f"<notification-{n.id}@state.lotse>"
        assert "node node-b silent for 45 min (last seen 2025-03-04 10:15 UTC)" in (
            msg.get_content())
        [mail] = rows(node, OutgoingMail)
        assert (mail.state, mail.recipient, mail.last_error) == ("sent", OPS_MAILBOX, None)
