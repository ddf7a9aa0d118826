"""The notifications domain at state level, without a node: silent-node alerts and statewide inboxes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table
from sqlmodel import select

from services.notifications import service as domain
from services.notifications.mailer import MailConfig
from services.notifications.models import GoalWatch, Kind, MailState, Notification, OutgoingMail
from services.notifications.state import service as state
from services.notifications.state.deps import STATEWIDE
from services.notifications.state.models import TABLES
from shared.auth import Principal
from shared.db import Database
from shared.federation.keys import STATE_TENANT

STUTTGART = "08111000"
SEEN = datetime(2025, 3, 4, 10, 15, 30, tzinfo=UTC)


@pytest.fixture
def db(database: Callable[[Sequence[Table]], Database]) -> Database:
    return database(TABLES)


def alert(db: Database, source: str, *, config: MailConfig = MailConfig(node="state")) -> Notification:
    with db.session() as s:
        n = state.alert_node_silent(s, tenant=STATE_TENANT, source=source, node_id="node-b",
                                    silent_for_s=720, last_seen_at=SEEN.isoformat(), mail=config)
        s.commit()
    assert n is not None
    return n


def test_the_state_level_has_no_goal_watches() -> None:
    assert GoalWatch.__table__ not in TABLES  # type: ignore[attr-defined]
    assert {t.name for t in TABLES} == {"notifications_notification", "notifications_read",
                                        "notifications_mail"}


def test_alert_wording_and_once_per_event(db: Database) -> None:
    config = MailConfig(node="state")
    cases = [("2025-03-04T10:15:30", 59, "node n silent for 0 min (last seen 2025-03-04 10:15"),
             ("2025-03-04T12:15:30+02:00", 3600, "for 60 min (last seen 2025-03-04 10:15 UTC)"),
             ("yesterday" * 20, 61, f"(last seen {('yesterday' * 20)[:64]})"),
             (None, 300, "for 5 min (last seen never)")]
    for i, (last_seen, seconds, expected) in enumerate(cases):
        with db.session() as s:
            n = state.alert_node_silent(s, tenant=STATE_TENANT, source=f"ev-{i}",
                                        node_id="n", silent_for_s=seconds,
                                        last_seen_at=last_seen, mail=config)
            again = state.alert_node_silent(s, tenant=STATE_TENANT, source=f"ev-{i}",
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


def test_an_alert_names_the_node_and_where_to_look(db: Database) -> None:
    n = alert(db, "ev-1")
    assert (n.kind, n.tenant, n.source) == (Kind.node_silent, STATE_TENANT, "ev-1")
    assert n.title == "node node-b silent for 12 min"
    assert n.body == ("node node-b silent for 12 min (last seen 2025-03-04 10:15 UTC). Its "
                      "heartbeat, relay lag and dead letters are listed under /api/federation/v1/nodes.")


def test_an_alert_is_mailed_to_the_operators_mailbox(db: Database) -> None:
    ops = MailConfig(node="state", host="127.0.0.1",
                     mailboxes={f"{STATE_TENANT}:state_operator": "ops@state.example"})
    alert(db, "ev-1", config=ops)
    alert(db, "ev-2")  # no SMTP server
    with db.session() as s:
        mails = s.exec(select(OutgoingMail)).all()
    assert [(m.state, m.recipient) for m in mails] == [
        (MailState.pending, "ops@state.example"), (MailState.skipped, None)]


def test_state_roles_read_alerts_statewide_and_per_person(db: Database) -> None:
    n = alert(db, "ev-1")

    def who(sub: str, *roles: str, tenants: tuple[str, ...] = ()) -> Principal:
        return Principal(sub=sub, roles=frozenset(roles), tenants=frozenset(tenants))

    operator, colleague = who("op-1", "state_operator"), who("op-2", "state_operator", tenants=(STUTTGART,))
    officer = who("fo-1", "funding_officer", tenants=(STATE_TENANT,))
    with db.session() as s:
        for reader in (operator, colleague, who("x", "funding_officer", "state_operator")):
            assert [m.id for m, _ in domain.inbox(s, reader=reader, unread=False, limit=50,
                                                  statewide_roles=STATEWIDE)] == [n.id]
        # the token's tenants alone do not reach a statewide alert
        assert domain.inbox(s, reader=operator, unread=False, limit=50) == []
        assert domain.inbox(s, reader=officer, unread=False, limit=50, statewide_roles=STATEWIDE) == []
        assert domain.find_notification(s, notification_id=n.id, reader=officer,
                                        statewide_roles=STATEWIDE) is None
    with db.session() as s:
        found = domain.find_notification(s, notification_id=n.id, reader=operator,
                                         statewide_roles=STATEWIDE)
        assert found is not None
        domain.mark_read(s, notification=found, reader=operator)
        s.commit()
    with db.session() as s:
        assert domain.inbox(s, reader=operator, unread=True, limit=50, statewide_roles=STATEWIDE) == []
        assert [m.id for m, _ in domain.inbox(s, reader=colleague, unread=True, limit=50,
                                              statewide_roles=STATEWIDE)] == [n.id]
