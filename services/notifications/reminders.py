"""Reminders ahead of a date: a plan's review (two weeks before), the end of counselling (60 days before).

A newer announcement replaces the reminder; each date is reminded once; a reassigned case takes its
pending reminders and goal watches to the new manager; a closed case ends them.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.events import utcnow

from .mailer import MailConfig
from .models import GoalWatch, Kind, Notification, Reminder, WatchState
from .service import notify

AHEAD = {Kind.plan_review_due: timedelta(days=14), Kind.counselling_ends: timedelta(days=60)}
TEXTS = {
    Kind.plan_review_due: ("Plan review due on {day}",
                           "The integration plan {plan} of case {case} is due for review on {day}."),
    Kind.counselling_ends: ("Counselling ends on {day}", "Counselling in case {case} ends on {day}."),
}
DATE_KEY = {Kind.plan_review_due: "review_on", Kind.counselling_ends: "ends_on"}  # in the notification's data
BATCH = 500


def schedule(
    session: Session, *, kind: Kind, subject: str, tenant: str, case_id: str, manager: str,
    about_on: date | None, newer_than: str, plan_id: str | None = None,
) -> Reminder | None:
    """Remind the manager ahead of `about_on` (None: no more reminder); an older announcement changes nothing."""
    reminder = session.get(Reminder, (kind, subject))
    if reminder is None:
        if about_on is None:
            return None
        reminder = Reminder(kind=kind, subject=subject, tenant=tenant, case_id=case_id, plan_id=plan_id,
                            manager=manager, about_on=about_on, remind_on=about_on - AHEAD[kind],
                            state=WatchState.watching, newer_than=newer_than)
        session.add(reminder)
        return reminder
    if reminder.tenant != tenant or newer_than <= reminder.newer_than:
        return None  # another tenant's id, or an older announcement arriving late
    reminder.manager, reminder.newer_than, reminder.updated_at = manager, newer_than, utcnow()
    if about_on is None:
        reminder.state = WatchState.ended
    elif about_on != reminder.about_on or reminder.state == WatchState.ended:
        reminder.about_on, reminder.remind_on = about_on, about_on - AHEAD[kind]
        reminder.state, reminder.fired_at = WatchState.watching, None
    session.add(reminder)
    return reminder


def fire_due(session: Session, *, today: date, mail: MailConfig) -> list[Notification]:
    """Remind every manager whose reminder day has come, once per subject and date."""
    due = session.exec(select(Reminder).where(
        Reminder.state == WatchState.watching, col(Reminder.remind_on) <= today)
        .order_by(col(Reminder.remind_on)).limit(BATCH)).all()
    fired: list[Notification] = []
    for reminder in due:
        day = reminder.about_on.isoformat()
        title, body = TEXTS[Kind(reminder.kind)]
        try:
            with session.begin_nested():
                n = notify(session, tenant=reminder.tenant, kind=Kind(reminder.kind),
                           source=f"{reminder.subject[:88]}@{day}", recipient_sub=reminder.manager,
                           title=title.format(day=day),
                           body=body.format(day=day, case=reminder.case_id, plan=reminder.plan_id),
                           mail=mail, data={"case_id": reminder.case_id, "plan_id": reminder.plan_id or "",
                                            DATE_KEY[Kind(reminder.kind)]: day})
                reminder.state, reminder.fired_at, reminder.updated_at = WatchState.fired, utcnow(), utcnow()
                session.add(reminder)
        except IntegrityError:  # another scheduler process reminded at the same moment
            continue
        if n is not None:
            fired.append(n)
    return fired


def end_for_case(session: Session, *, tenant: str, case_id: str) -> int:
    """A closed case needs no more reminders and no overdue notices; how many ended."""
    ended = 0
    for row in [*session.exec(select(Reminder).where(Reminder.case_id == case_id, Reminder.tenant == tenant,
                                                     Reminder.state == WatchState.watching)).all(),
                *session.exec(select(GoalWatch).where(GoalWatch.case_id == case_id, GoalWatch.tenant == tenant,
                                                      GoalWatch.state == WatchState.watching)).all()]:
        row.state, row.updated_at = WatchState.ended, utcnow()
        session.add(row)
        ended += 1
    return ended


def reassign(session: Session, *, tenant: str, case_id: str, manager: str) -> int:
    """The case's pending reminders and goal watches go to its new manager; how many moved."""
    moved = 0
    for reminder in session.exec(select(Reminder).where(
            Reminder.case_id == case_id, Reminder.tenant == tenant, Reminder.state == WatchState.watching)).all():
        reminder.manager, reminder.updated_at = manager, utcnow()
        session.add(reminder)
        moved += 1
    for watch in session.exec(select(GoalWatch).where(
            GoalWatch.case_id == case_id, GoalWatch.tenant == tenant, GoalWatch.state == WatchState.watching)).all():
        watch.manager, watch.updated_at = manager, utcnow()
        session.add(watch)
        moved += 1
    return moved
