"""The notifications domain at municipal level, without a node: rules, inboxes, overdue goals, mail states."""

from __future__ import annotations

import smtplib
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, text, update
from sqlmodel import select

from services.notifications import mailer, scheduler
from services.notifications import service as domain
from services.notifications.mailer import MailConfig
from services.notifications.models import (
    TABLES,
    GoalWatch,
    Kind,
    MailState,
    Notification,
    OutgoingMail,
    ReadReceipt,
    WatchState,
)
from shared.auth import Principal
from shared.db import Database
from shared.errors import InvalidInput
from shared.events.codes import GoalStatus, Topic
from tests.unit.conftest import unit

STUTTGART, HEIDELBERG = "08111000", "08221000"
TODAY = date(2026, 11, 2)
LEAD_MAILBOX = "lead@stuttgart.example"
CONFIG = MailConfig(node="n1", host="127.0.0.1", port=1,
                    mailboxes={f"{STUTTGART}:lead": LEAD_MAILBOX})


def reader(sub: str, *roles: str, tenants: tuple[str, ...] = (STUTTGART,)) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), tenants=frozenset(tenants))


def announce(db: Database, source: str = "ev-1", *, tenant: str = STUTTGART, approved: bool = True,
             config: MailConfig = CONFIG) -> Notification | None:
    with unit(db) as s:
        return domain.announce_extension_decision(
            s, tenant=tenant, source=source, application_id="a1", position_id="p1",
            approved=approved, decided_on=TODAY, mail=config)


def opened(db: Database, source: str, manager: str | None = "m-1") -> Notification | None:
    with unit(db) as s:
        return domain.confirm_case_opened(s, tenant=STUTTGART, source=source, case_id="case-7",
                                          manager=manager, opened_on=TODAY, mail=CONFIG)


def watch(db: Database, goal_id: str = "g1", *, due: date = TODAY, version: int = 1,
          tenant: str = STUTTGART) -> None:
    with unit(db) as s:
        domain.watch_goal(s, tenant=tenant, goal_id=goal_id, plan_id="p1", manager="m-1",
                          area=Topic.work, due_on=due, plan_version=version)


def status(db: Database, goal_id: str, value: GoalStatus, version: int,
           tenant: str = STUTTGART) -> GoalWatch | None:
    with unit(db) as s:
        return domain.track_goal_status(s, tenant=tenant, goal_id=goal_id, status=value,
                                        plan_version=version)


def all_of(db: Database, model: Any) -> list[Any]:
    with db.session() as s:
        return list(s.exec(select(model)).all())


# -- rules: one notification per event ----------------------------------------------------------
def test_an_extension_decision_notifies_the_tenants_lead_once(db: Database) -> None:
    n = announce(db)
    assert n is not None and announce(db) is None  # the same event twice: one notification
    assert (n.kind, n.tenant, n.recipient_role, n.recipient_sub, n.source) == (
        Kind.extension_decided, STUTTGART, "lead", None, "ev-1")
    assert n.title == "Extension approved for position p1"
    assert n.body == f"The state approved extension application a1 for position p1 on {TODAY}."
    rejected = announce(db, "ev-2", approved=False)
    assert rejected is not None and rejected.title == "Extension rejected for position p1"
    [mail, _] = all_of(db, OutgoingMail)
    assert (mail.notification_id, mail.state, mail.recipient) == (n.id, MailState.pending,
                                                                  LEAD_MAILBOX)
    assert mail.message_id == f"<notification-{n.id}@n1.lotse>"


def test_a_case_opened_confirms_to_its_manager_and_refuses_an_unknown_one(db: Database) -> None:
    n = opened(db, "ev-1")
    assert n is not None and (n.kind, n.recipient_sub, n.recipient_role) == (
        Kind.case_opened, "m-1", None)
    assert n.title == "Case case-7 opened"
    assert n.body == f"Case case-7 was opened on {TODAY} with you as its manager."
    for manager in (None, "", "m" * 256):  # a projected event lost its manager: dead letter
        with pytest.raises(domain.Unaddressable) as refused:
            opened(db, f"ev-{manager!r}", manager)
        assert isinstance(refused.value, InvalidInput) and refused.value.field == "manager"
    assert len(all_of(db, Notification)) == 1


def test_titles_and_bodies_are_cut_to_their_columns(db: Database) -> None:
    with unit(db) as s:
        n = domain.announce_extension_decision(
            s, tenant=STUTTGART, source="ev-long", application_id="a" * 3000,
            position_id="p" * 300, approved=True, decided_on=TODAY, mail=CONFIG)
    assert n is not None and len(n.title) == 200 and len(n.body) == 2000


def test_kinds_and_states_are_stored_as_plain_strings(db: Database) -> None:
    announce(db)
    watch(db)
    for table, column in [("notifications_notification", "kind"), ("notifications_mail", "state"),
                          ("notifications_goal_watch", "state"),
                          ("notifications_goal_watch", "status")]:
        assert type(next(t for t in TABLES if t.name == table).c[column].type) is String
    with db.session() as s:
        raw = s.execute(text("SELECT kind FROM notifications_notification")).scalar_one()
        watched = s.execute(text("SELECT state, status, area FROM notifications_goal_watch")).one()
    assert raw == "extension_decided" and tuple(watched) == ("watching", "open", "work")


# -- mail states --------------------------------------------------------------------------------
def test_a_mail_row_is_skipped_without_a_server_or_a_mailbox(db: Database) -> None:
    announce(db, "ev-1", config=MailConfig(node="n1"))  # no SMTP server
    announce(db, "ev-2", tenant=HEIDELBERG)  # Heidelberg's lead has no mailbox
    opened(db, "ev-3")  # nor has the manager
    announce(db, "ev-4")
    states = [(m.state, m.recipient, m.last_error) for m in all_of(db, OutgoingMail)]
    assert states == [(MailState.skipped, None, "no SMTP server configured"),
                      (MailState.skipped, None, f"no mailbox for {HEIDELBERG}:lead"),
                      (MailState.skipped, None, "no mailbox for m-1"),
                      (MailState.pending, LEAD_MAILBOX, None)]
    sent: list[Any] = []
    assert mailer.send_due(db, CONFIG, send=lambda config, message: sent.append(message)) == 1
    assert [m.state for m in all_of(db, OutgoingMail)] == [MailState.skipped] * 3 + [MailState.sent]
    assert [m["To"] for m in sent] == [LEAD_MAILBOX]


def test_a_crashed_sender_is_recognisable_and_stale_claims_are_fenced(db: Database) -> None:
    n = announce(db)
    assert n is not None and announce(db) is None  # once per (kind, source)
    first = mailer.claim_next(db)
    assert first is not None and first[0].state == "sending" and first[0].attempts == 1
    assert mailer.claim_next(db) is None  # leased
    with db.session() as s:  # the first sender died mid-send: its lease runs out
        s.execute(update(OutgoingMail).values(lease_until=datetime(2000, 1, 1, tzinfo=UTC)))
        s.commit()
    second = mailer.claim_next(db)
    assert second is not None and second[0].attempts == 2
    one = mailer.build_message(first[1], first[0], CONFIG)
    two = mailer.build_message(second[1], second[0], CONFIG)
    assert one.as_bytes() == two.as_bytes()
    assert one["Message-ID"] == f"<notification-{n.id}@n1.lotse>"
    assert not mailer.mark_sent(db, first[0])  # the stale claim cannot touch the row
    assert mailer.mark_sent(db, second[0])
    assert mailer.claim_next(db) is None


def test_failures_back_off_and_permanent_ones_give_up(db: Database) -> None:
    announce(db, "ev-1")
    announce(db, "ev-2")

    def refuse(config: MailConfig, message: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    assert mailer.send_due(db, CONFIG, send=refuse) == 0
    mails = all_of(db, OutgoingMail)
    assert [(m.state, m.attempts) for m in mails] == [("pending", 1), ("pending", 1)]
    assert all(m.next_attempt_at > m.created_at for m in mails)
    assert mailer.send_due(db, CONFIG, send=refuse) == 0  # nothing due yet: backing off
    assert [mailer.backoff(a).total_seconds() for a in (1, 2, 3, 20)] == [1, 2, 4, 3600]

    def reject(config: MailConfig, message: Any) -> None:
        raise smtplib.SMTPRecipientsRefused({LEAD_MAILBOX: (550, b"no such user")})

    time.sleep(1.1)
    assert mailer.send_due(db, CONFIG, send=reject) == 0
    assert {m.state for m in all_of(db, OutgoingMail)} == {"failed"}
    assert mailer.claim_next(db) is None


def test_a_mail_is_given_up_after_its_last_attempt(db: Database) -> None:
    announce(db)
    claimed = mailer.claim_next(db)
    assert claimed is not None
    mail = claimed[0]
    mail.attempts = mailer.MAX_ATTEMPTS  # as the fence sees it: the last attempt was this one
    with db.session() as s:
        s.execute(update(OutgoingMail).values(attempts=mailer.MAX_ATTEMPTS))
        s.commit()
    assert mailer.mark_failed(db, mail, ConnectionRefusedError(111, "Connection refused"))
    [row] = all_of(db, OutgoingMail)
    assert row.state == MailState.failed and "Connection refused" in (row.last_error or "")


def test_a_header_injection_is_never_sent(db: Database) -> None:
    with unit(db) as s:
        domain.announce_extension_decision(
            s, tenant=STUTTGART, source="ev-x", application_id="a1",
            position_id="p1\nBcc: victim@example.org", approved=True, decided_on=TODAY, mail=CONFIG)
    sent: list[Any] = []
    assert mailer.send_due(db, CONFIG, send=lambda config, message: sent.append(message)) == 0
    [mail] = all_of(db, OutgoingMail)
    assert sent == [] and mail.state == "failed" and "linefeed" in (mail.last_error or "")


# -- goal watches and overdue detection ---------------------------------------------------------
def test_overdue_fires_once_per_goal_at_the_service_layer(db: Database) -> None:
    due = TODAY + timedelta(days=1)
    watch(db, due=due)
    assert scheduler.check_overdue(db, CONFIG, day=due) == 0  # due today: not yet overdue
    assert scheduler.check_overdue(db, CONFIG, day=due + timedelta(days=1)) == 1
    assert scheduler.check_overdue(db, CONFIG, day=due + timedelta(days=9)) == 0
    with db.session() as s:  # even a watch re-armed by hand cannot fire a second notification
        s.execute(update(GoalWatch).values(state="watching"))
        s.commit()
    assert scheduler.check_overdue(db, CONFIG, day=due + timedelta(days=9)) == 0
    [n] = all_of(db, Notification)
    [m] = all_of(db, OutgoingMail)
    assert n.recipient_sub == "m-1"
    assert m.state == "skipped" and m.last_error == "no mailbox for m-1"
    with db.session() as s, pytest.raises(domain.Unaddressable):
        domain.watch_goal(s, tenant=STUTTGART, goal_id="g2", plan_id="p1", manager="m" * 300,
                          area=Topic.work, due_on=due, plan_version=1)


def test_an_overdue_notification_names_goal_plan_and_dates(db: Database) -> None:
    watch(db, "g-past", due=TODAY - timedelta(days=3))
    with unit(db) as s:
        [n] = domain.fire_overdue(s, today=TODAY, mail=CONFIG)
    since, target = TODAY - timedelta(days=2), TODAY - timedelta(days=3)
    assert (n.kind, n.source, n.recipient_sub) == (Kind.goal_overdue, f"g-past@{target}", "m-1")
    assert n.title == "Goal g-past is overdue"
    assert n.data == {"goal_id": "g-past", "plan_id": "p1", "case_id": "", "area": "work", "status": "open",
                      "due_on": target.isoformat(), "overdue_since": since.isoformat()}
    assert n.body == (f"Goal g-past (work) of plan p1 is overdue since {since} "
                      f"(target date {target}); its status is open.")
    [w] = all_of(db, GoalWatch)
    assert w.state == WatchState.fired and w.fired_at is not None


def test_a_repeated_announcement_changes_no_watch(db: Database) -> None:
    watch(db, "g1", due=TODAY)
    watch(db, "g1", due=TODAY - timedelta(days=9), version=9)
    [w] = all_of(db, GoalWatch)
    assert (w.due_on, w.plan_version, w.state, w.status) == (TODAY, 1, "watching", "open")


def test_goal_status_ends_re_arms_and_ignores_stale_or_foreign_changes(db: Database) -> None:
    watch(db, "g1", due=TODAY + timedelta(days=1))
    assert status(db, "unwatched", GoalStatus.achieved, 2) is None  # no target date: no watch
    assert status(db, "g1", GoalStatus.achieved, 2, tenant=HEIDELBERG) is None
    ended = status(db, "g1", GoalStatus.achieved, 4)
    assert ended is not None and ended.state == WatchState.ended
    assert status(db, "g1", GoalStatus.open, 3) is None  # older than what we know
    assert scheduler.check_overdue(db, CONFIG, day=TODAY + timedelta(days=30)) == 0
    rearmed = status(db, "g1", GoalStatus.in_progress, 5)
    assert rearmed is not None and rearmed.state == WatchState.watching
    assert scheduler.check_overdue(db, CONFIG, day=TODAY + timedelta(days=30)) == 1
    dropped = status(db, "g1", GoalStatus.dropped, 6)
    assert dropped is not None and dropped.state == WatchState.ended
    reopened = status(db, "g1", GoalStatus.open, 7)  # fired once: stays fired, never twice
    assert reopened is not None and reopened.state == WatchState.fired
    assert scheduler.check_overdue(db, CONFIG, day=TODAY + timedelta(days=60)) == 0
    assert len(all_of(db, Notification)) == 1


# -- inboxes and reading ------------------------------------------------------------------------
def test_an_inbox_holds_own_and_role_notifications_of_the_readers_tenants(db: Database) -> None:
    decided = announce(db, "ev-1")
    confirmed = opened(db, "ev-2")
    foreign = announce(db, "ev-3", tenant=HEIDELBERG)
    assert decided is not None and confirmed is not None and foreign is not None
    with db.session() as s:
        def ids(who: Principal, **kw: Any) -> list[str]:
            return [n.id for n, _ in domain.inbox(s, reader=who, unread=False, limit=50, **kw)]

        assert ids(reader("lead-1", "lead")) == [decided.id]
        assert ids(reader("m-1", "manager")) == [confirmed.id]
        assert ids(reader("m-2", "manager")) == []
        assert ids(reader("m-1", "manager", tenants=(HEIDELBERG,))) == []  # own, but not here
        both = reader("lead-2", "lead", tenants=(STUTTGART, HEIDELBERG))
        assert ids(both) == [foreign.id, decided.id]  # newest first
        assert ids(reader("m-1", "manager", "lead")) == [confirmed.id, decided.id]
        assert [n.id for n, _ in domain.inbox(s, reader=both, unread=False, limit=1)] == [foreign.id]
        # a statewide role reaches only what is addressed to that role
        assert ids(reader("lead-3", "lead", tenants=()), statewide_roles=frozenset({"lead"})) == [
            foreign.id, decided.id]


def test_reading_counts_once_per_reader_and_others_cannot_find_it(db: Database) -> None:
    n = announce(db)
    assert n is not None
    lead, other_lead = reader("lead-1", "lead"), reader("lead-2", "lead")
    for who in (reader("m-1", "manager"), reader("lead-1", "lead", tenants=(HEIDELBERG,))):
        with db.session() as s:
            assert domain.find_notification(s, notification_id=n.id, reader=who) is None
    with db.session() as s:
        assert domain.find_notification(s, notification_id="0" * 26, reader=lead) is None
    with unit(db) as s:
        found = domain.find_notification(s, notification_id=n.id, reader=lead)
        assert found is not None
        first = domain.mark_read(s, notification=found, reader=lead)
    with unit(db) as s:
        assert domain.mark_read(s, notification=found, reader=lead) == first  # the first counts
    with db.session() as s:
        [(_, read_at)] = domain.inbox(s, reader=lead, unread=False, limit=50)
        assert read_at == first
        assert domain.inbox(s, reader=lead, unread=True, limit=50) == []
        assert [m.id for m, _ in domain.inbox(s, reader=other_lead, unread=True, limit=50)] == [n.id]
    assert [(r.notification_id, r.sub) for r in all_of(db, ReadReceipt)] == [(n.id, "lead-1")]


def reschedule(db: Database, goal_id: str, due: date | None, version: int,
               value: GoalStatus = GoalStatus.open, tenant: str = STUTTGART) -> GoalWatch | None:
    with unit(db) as s:
        return domain.reschedule_goal(s, tenant=tenant, goal_id=goal_id, plan_id="p1", case_id="c1",
                                      manager="m-1", area=Topic.work, status=value, due_on=due,
                                      plan_version=version)


def test_a_rescheduled_goal_is_watched_at_its_new_date_and_notified_once_per_date(db: Database) -> None:
    watch(db, "g1", due=TODAY - timedelta(days=3))
    with unit(db) as s:
        [first] = domain.fire_overdue(s, today=TODAY, mail=CONFIG)
    moved = reschedule(db, "g1", TODAY + timedelta(days=10), 2)
    assert moved is not None and (moved.state, moved.due_on, moved.fired_at) == (
        WatchState.watching, TODAY + timedelta(days=10), None)
    with unit(db) as s:
        assert domain.fire_overdue(s, today=TODAY, mail=CONFIG) == []  # not due at its new date yet
        [second] = domain.fire_overdue(s, today=TODAY + timedelta(days=11), mail=CONFIG)
    assert second.source != first.source and second.data["due_on"] == (TODAY + timedelta(days=10)).isoformat()
    assert second.data["case_id"] == "c1"
    # stale, foreign, cleared, then a first date for a goal that had none
    assert reschedule(db, "g1", TODAY, 2) is None
    assert reschedule(db, "g1", TODAY, 5, tenant=HEIDELBERG) is None
    cleared = reschedule(db, "g1", None, 3)
    assert cleared is not None and cleared.state == WatchState.ended
    assert reschedule(db, "g-new", None, 2) is None
    started = reschedule(db, "g-new", TODAY - timedelta(days=1), 2, value=GoalStatus.in_progress)
    assert started is not None and (started.state, started.status) == (WatchState.watching, "in_progress")
    with unit(db) as s:
        [third] = domain.fire_overdue(s, today=TODAY, mail=CONFIG)
    assert third.data["goal_id"] == "g-new"
    achieved = reschedule(db, "g-new", TODAY + timedelta(days=5), 3, value=GoalStatus.achieved)
    assert achieved is not None and achieved.state == WatchState.ended  # a reached goal is not overdue
