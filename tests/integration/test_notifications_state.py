"""The notifications service on a real state node: silent-node alerts, statewide inboxes, e-mail."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from services.notifications import scheduler
from services.notifications import service as domain
from services.notifications.app import background
from services.notifications.app import service as notifications_service
from services.notifications.mailer import MailConfig
from services.notifications.models import TABLES, GoalWatch, Notification, OutgoingMail, ReadReceipt
from shared.auth import DEV_ISSUER, load_or_create_dev_key
from shared.bus import BUS_TABLES, OutboxEvent
from shared.db import Database
from shared.events import STREAMS, Contract, Envelope, envelope_for, new_event_id
from shared.events.cases import CaseOpened
from shared.events.federation import NodeSilent
from shared.events.funding import ExtensionDecided
from shared.events.plans import PlanGoalAdded
from shared.federation.keys import STATE_TENANT
from shared.runtime.embedded import EmbeddedServer
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually, running_node

API = "/api/notifications/v1"
OPS_MAILBOX = "ops@state.example"
SEEN = datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(autouse=True)
def only_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this service is installed for the node: the test publishes the other services' events.
    monkeypatch.setattr("shared.runtime.node.discover", lambda: {"notifications": notifications_service})


@pytest.fixture
def redis(valkey: EmbeddedServer) -> Iterator[Redis]:
    client = Redis.from_url(valkey.url)
    yield client
    client.close()


def state_node(tmp_path: Path, valkey: EmbeddedServer, **overrides: Any) -> Any:
    return running_node(tmp_path, valkey.url, level="state", node_id="state",
                        tenants=[STATE_TENANT], services=["notifications"], **overrides)


@pytest.fixture
def node(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[NodeHandle]:
    with state_node(tmp_path, valkey) as handle:
        yield handle


class Collector:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def settled(redis: Redis, stream: str) -> bool:
    """The notifications group has read and acknowledged everything on the stream."""
    group = next(g for g in redis.xinfo_groups(stream) if g["name"] == b"notifications")
    return group["lag"] == 0 and group["pending"] == 0


def groups(redis: Redis, stream: str) -> set[bytes]:
    return {g["name"] for g in redis.xinfo_groups(stream)} if redis.exists(stream) else set()


def rows(node: NodeHandle, model: Any, *where: Any) -> list[Any]:
    with node.node.contexts["notifications"].database.session() as s:
        return list(s.exec(select(model).where(*where)).all())


def count(node: NodeHandle, model: Any) -> int:
    with node.node.contexts["notifications"].database.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def token(node: NodeHandle, sub: str, *roles: str, tenants: list[str]) -> dict[str, str]:
    """A dev token naming any tenants (the CLI only issues the node's own)."""
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": node.settings.node_id, "sub": sub, "roles": list(roles),
              "tenants": tenants, "iat": now, "exp": now + 60}
    signed = jwt.encode(claims, load_or_create_dev_key(node.settings.data_dir), algorithm="EdDSA")
    return {"Authorization": f"Bearer {signed}"}


def inbox(node: NodeHandle, as_: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = node.client.get(f"{API}/inbox", headers=as_, params=params)
    assert r.status_code == 200, r.text
    return r.json()


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
    # statewide: the token's tenants do not matter; a funding officer is not an operator
    for tenants in ([], [STUTTGART], [HEIDELBERG, STATE_TENANT]):
        seen = inbox(node, token(node, "op-2", "state_operator", tenants=tenants))
        assert [n["id"] for n in seen] == [newest["id"], first["id"]], tenants
    assert inbox(node, node.headers("fo-1", "funding_officer", tenants=[STATE_TENANT])) == []
    both = token(node, "fo-2", "funding_officer", "state_operator", tenants=[])
    assert len(inbox(node, both)) == 2
    # no SMTP server configured: the mail rows exist and stay skipped
    assert {m.state for m in rows(node, OutgoingMail)} == {"skipped"}


def test_state_inbox_reading_and_authorisation(node: NodeHandle, redis: Redis) -> None:
    silent(redis)
    eventually(lambda: rows(node, Notification))
    [alert] = rows(node, Notification)
    operator = token(node, "op-1", "state_operator", tenants=[])
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
        plan_id="plan-1", case_id="case-1", goal_id="g-1", manager="m-1", area="work",
        target_date=today - timedelta(days=3), plan_version=1))
    last = silent(redis)  # after the others on the federation stream
    eventually(lambda: settled(redis, STREAMS["federation"]))
    assert [n.source for n in rows(node, Notification)] == [last.event_id]
    # no consumer group of ours on the municipal streams, no goal watches, no overdue checker
    assert b"notifications" not in groups(redis, STREAMS["cases"]) | groups(redis, STREAMS["plans"])
    assert rows(node, GoalWatch) == []
    assert background(node.node.contexts["notifications"]) == []
    with node.node.contexts["notifications"].database.session() as s:  # even a stray watch
        s.add(GoalWatch(goal_id="g-9", plan_id="p", tenant=STUTTGART, manager="m-1", area="work",
                        due_on=today - timedelta(days=9), status="open", plan_version=1,
                        state="watching"))
        s.commit()
    time.sleep(1.0)  # five scheduler intervals
    assert [n.kind for n in rows(node, Notification)] == ["node_silent"]


# -- e-mail over a real SMTP server -------------------------------------------------------------
def test_alert_is_mailed_once_to_the_state_operators_mailbox(valkey: EmbeddedServer, redis: Redis,
                                                             tmp_path: Path) -> None:
    collector, port = Collector(), free_port()
    smtp = Controller(collector, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with state_node(tmp_path, valkey, smtp_host="127.0.0.1", smtp_port=port,
                        smtp_sender="lotse@state.example",
                        mailboxes={f"{STATE_TENANT}:state_operator": OPS_MAILBOX}) as node:
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
    finally:
        smtp.stop()


# -- the service layer ------------------------------------------------------------------------
def test_alert_wording_and_once_per_event(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}", [*TABLES, *BUS_TABLES])
    db.migrate()
    config = MailConfig(node="state")
    cases = [("2025-03-04T10:15:30", 59, "node n silent for 0 min (last seen 2025-03-04 10:15"),
             ("2025-03-04T12:15:30+02:00", 3600, "for 60 min (last seen 2025-03-04 10:15 UTC)"),
             ("yesterday" * 20, 61, f"(last seen {('yesterday' * 20)[:64]})"),
             (None, 300, "for 5 min (last seen never)")]
    try:
        for i, (last_seen, seconds, expected) in enumerate(cases):
            with db.session() as s:
                n = domain.alert_node_silent(s, tenant=STATE_TENANT, source=f"ev-{i}",
                                             node_id="n", silent_for_s=seconds,
                                             last_seen_at=last_seen, mail=config)
                again = domain.alert_node_silent(s, tenant=STATE_TENANT, source=f"ev-{i}",
                                                 node_id="n", silent_for_s=seconds + 60,
                                                 last_seen_at=None, mail=config)
                s.commit()
            assert n is not None and again is None
            assert expected in n.body, n.body
            assert n.recipient_role == "state_operator" and n.recipient_sub is None
        # a projected event has lost its manager: the municipal rules refuse it (dead letter)
        with db.session() as s, pytest.raises(domain.Unaddressable):
            domain.confirm_case_opened(s, tenant=STUTTGART, source="ev-c", case_id="c",
                                       manager=None, opened_on=SEEN.date(), mail=config)
    finally:
        db.dispose()
