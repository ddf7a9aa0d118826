"""Reminders without a node: a plan's review two weeks ahead, counselling's end 60 days ahead, reassignment."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from services.notifications import reminders, scheduler
from services.notifications import service as domain
from services.notifications.mailer import MailConfig
from services.notifications.models import TABLES, GoalWatch, Kind, Notification, Reminder, WatchState
from shared.db import Database
from shared.events.codes import Topic
from tests.unit.conftest import unit

__all__ = ["TABLES"]  # the tables the `db` fixture makes
STUTTGART, HEIDELBERG = "08111000", "08221000"
CONFIG = MailConfig(host=None, port=25, sender="lotse@localhost", node="node-a", mailboxes={})
REVIEW = date(2027, 3, 1)


def review(db: Database, on: date | None, version: int, manager: str = "m-1",
           tenant: str = STUTTGART) -> Reminder | None:
    with unit(db) as s:
        return reminders.schedule(s, kind=Kind.plan_review_due, subject="plan-1", tenant=tenant, case_id="case-1",
                                  plan_id="plan-1", manager=manager, about_on=on, newer_than=f"{version:012d}")


def fire(db: Database, day: date) -> list[Notification]:
    with unit(db) as s:
        return reminders.fire_due(s, today=day, mail=CONFIG)


def test_a_review_is_reminded_two_weeks_ahead_once_per_date(db: Database) -> None:
    first = review(db, REVIEW, 3)
    assert first is not None and first.remind_on == REVIEW - timedelta(days=14)
    assert fire(db, REVIEW - timedelta(days=15)) == []
    [n] = fire(db, REVIEW - timedelta(days=14))
    assert (n.kind, n.recipient_sub, n.source) == (Kind.plan_review_due, "m-1", f"plan-1@{REVIEW}")
    assert n.data == {"case_id": "case-1", "plan_id": "plan-1", "review_on": REVIEW.isoformat()}
    assert "plan-1" in n.body and REVIEW.isoformat() in n.title
    assert fire(db, REVIEW) == []  # once
    assert review(db, date(2026, 1, 1), 2) is None  # an older announcement changes nothing
    assert review(db, REVIEW, 4, tenant=HEIDELBERG) is None
    later = REVIEW + timedelta(days=180)
    moved = review(db, later, 5)
    assert moved is not None and (moved.state, moved.remind_on) == (WatchState.watching, later - timedelta(days=14))
    [again] = fire(db, later)
    assert again.data["review_on"] == later.isoformat()
    cleared = review(db, None, 6)
    assert cleared is not None and cleared.state == WatchState.ended


def test_counselling_ends_is_reminded_60_days_ahead_and_follows_a_reassigned_case(db: Database) -> None:
    ends = date(2028, 9, 30)
    with unit(db) as s:
        reminders.schedule(s, kind=Kind.counselling_ends, subject="case-1", tenant=STUTTGART, case_id="case-1",
                           manager="m-1", about_on=ends, newer_than="2026-01-01T00:00:00+00:00|a")
        domain.watch_goal(s, tenant=STUTTGART, goal_id="g1", plan_id="plan-1", case_id="case-1", manager="m-1",
                          area=Topic.work, due_on=ends, plan_version=2)
    review(db, REVIEW, 3)
    with unit(db) as s:
        assert reminders.reassign(s, tenant=HEIDELBERG, case_id="case-1", manager="m-9") == 0
        assert reminders.reassign(s, tenant=STUTTGART, case_id="case-1", manager="m-2") == 3
    with db.session() as s:
        assert {r.manager for r in s.exec(select(Reminder)).all()} == {"m-2"}
        assert s.exec(select(GoalWatch)).one().manager == "m-2"
    # an extension moves the end: the newer announcement wins, reminded 60 days before the new end
    longer = date(2029, 9, 30)
    with unit(db) as s:
        reminders.schedule(s, kind=Kind.counselling_ends, subject="case-1", tenant=STUTTGART, case_id="case-1",
                           manager="m-2", about_on=longer, newer_than="2026-02-01T00:00:00+00:00|b")
    assert [n.kind for n in fire(db, ends - timedelta(days=60))] == [Kind.plan_review_due]
    [n] = fire(db, longer - timedelta(days=60))
    assert (n.kind, n.recipient_sub, n.data["ends_on"]) == (Kind.counselling_ends, "m-2", longer.isoformat())


def test_the_scheduler_pass_fires_reminders_with_overdue_goals(db: Database) -> None:
    review(db, REVIEW, 3)
    assert scheduler.check_overdue(db, CONFIG, day=REVIEW) == 1
    assert scheduler.check_overdue(db, CONFIG, day=REVIEW) == 0


def test_a_closed_case_ends_its_reminders_and_goal_watches(db: Database) -> None:
    review(db, REVIEW, 3)
    with unit(db) as s:
        domain.watch_goal(s, tenant=STUTTGART, goal_id="g1", plan_id="plan-1", case_id="case-1", manager="m-1",
                          area=Topic.work, due_on=REVIEW, plan_version=2)
        assert reminders.end_for_case(s, tenant=HEIDELBERG, case_id="case-1") == 0
        assert reminders.end_for_case(s, tenant=STUTTGART, case_id="case-1") == 2
    assert fire(db, REVIEW + timedelta(days=1)) == []
    with unit(db) as s:
        assert domain.fire_overdue(s, today=REVIEW + timedelta(days=1), mail=CONFIG) == []
