"""The notifications domain: notifications once per source, inboxes, and the municipal rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.auth import Principal
from shared.errors import InvalidInput
from shared.events import utcnow
from shared.events.codes import GoalStatus, Topic
from shared.ids import new_id

from . import mailer
from .mailer import MailConfig
from .models import SUB_MAX, GoalWatch, Kind, Notification, ReadReceipt, WatchState

OPEN = frozenset({GoalStatus.open, GoalStatus.in_progress})
OVERDUE_BATCH = 500


class Unaddressable(InvalidInput):
    """An event names a recipient this service cannot store; the bus dead-letters it."""


def notify(
    session: Session, *, tenant: str, kind: Kind, source: str, title: str, body: str,
    mail: MailConfig, recipient_sub: str | None = None, recipient_role: str | None = None,
    data: dict[str, str] | None = None,
) -> Notification | None:
    """Create a notification and its mail row, once per (kind, source); None if it exists.

    `title` and `body` are the English e-mail; `data` holds the ids, codes and ISO dates a page
    needs to say the same in the reader's language.
    """
    if recipient_sub is not None and not 0 < len(recipient_sub) <= SUB_MAX:
        raise Unaddressable("recipient_sub", f"id must have 1 to {SUB_MAX} characters")
    exists = session.exec(select(Notification.id).where(
        Notification.kind == kind, Notification.source == source)).first()
    if exists is not None:
        return None
    n = Notification(id=new_id(), tenant=tenant, kind=kind, source=source, title=title[:200],
                     body=body[:2000], recipient_sub=recipient_sub, recipient_role=recipient_role,
                     data=dict(data or {}))
    session.add(n)
    session.flush()  # the mail row refers to it
    mailer.enqueue(session, n, mail)
    return n


def _manager(manager: str | None) -> str:
    """The manager an event names (local-only: absent once an event has been at the state)."""
    if manager is None or not 0 < len(manager) <= SUB_MAX:
        raise Unaddressable("manager", f"id must have 1 to {SUB_MAX} characters")
    return manager


# -- rules ------------------------------------------------------------------------------------
def announce_extension_decision(
    session: Session, *, tenant: str, source: str, application_id: str, position_id: str,
    approved: bool, decided_on: date, mail: MailConfig, application_kind: str | None = None,
) -> Notification | None:
    """Tell the municipality's lead how the state decided an application (an extension's or a new position's)."""
    outcome = "approved" if approved else "rejected"
    new_position = application_kind == "new_position"
    return notify(
        session, tenant=tenant, kind=Kind.extension_decided, source=source, recipient_role="lead",
        title=f"{'New position' if new_position else 'Extension'} {outcome} for position {position_id}",
        body=(f"The state {outcome} {'new-position' if new_position else 'extension'} application {application_id} "
              f"for position {position_id} on {decided_on.isoformat()}."), mail=mail,
        data={"outcome": outcome, "application_id": application_id, "position_id": position_id,
              "decided_on": decided_on.isoformat(),
              **({"application_kind": application_kind} if application_kind else {})})


def confirm_case_opened(
    session: Session, *, tenant: str, source: str, case_id: str, manager: str | None,
    opened_on: date, mail: MailConfig,
) -> Notification | None:
    """Confirm to the case's manager that the case file was opened."""
    return notify(
        session, tenant=tenant, kind=Kind.case_opened, source=source,
        recipient_sub=_manager(manager), title=f"Case {case_id} opened",
        body=f"Case {case_id} was opened on {opened_on.isoformat()} with you as its manager.",
        mail=mail, data={"case_id": case_id, "opened_on": opened_on.isoformat()})


def announce_break_glass(
    session: Session, *, tenant: str, source: str, case_id: str, manager: str, until: datetime, mail: MailConfig,
) -> Notification | None:
    """Tell the municipality's lead that a stand-in opened a case outside their caseload (the reason is in the file)."""
    return notify(
        session, tenant=tenant, kind=Kind.break_glass_opened, source=source, recipient_role="lead",
        title=f"Break-glass access to case {case_id}",
        body=(f"{_manager(manager)} opened case {case_id} outside their caseload as a stand-in, until "
              f"{until.isoformat()}. The reason is recorded in the case's break-glass record."),
        mail=mail, data={"case_id": case_id, "manager": manager, "until": until.isoformat()})


def announce_handover_received(session: Session, *, tenant: str, handover_id: str, from_tenant: str,
                               mail: MailConfig) -> Notification | None:
    """Tell the receiving municipality's lead that a case was handed over to it (once per hand-over)."""
    return notify(
        session, tenant=tenant, kind=Kind.handover_received, source=handover_id, recipient_role="lead",
        title=f"A case was handed over from municipality {from_tenant}",
        body=(f"Another municipality ({from_tenant}) handed a case over to yours (hand-over {handover_id}). "
              "Accept or decline it on the hand-overs page."),
        mail=mail, data={"handover_id": handover_id, "from_tenant": from_tenant})


def announce_handover_answered(session: Session, *, tenant: str, handover_id: str, to_tenant: str, accepted: bool,
                               mail: MailConfig) -> Notification | None:
    """Tell the sending municipality's lead how the receiving one answered (once per hand-over)."""
    outcome = "accepted" if accepted else "declined"
    return notify(
        session, tenant=tenant, kind=Kind.handover_answered, source=handover_id, recipient_role="lead",
        title=f"Hand-over {outcome} by municipality {to_tenant}",
        body=(f"Municipality {to_tenant} {outcome} hand-over {handover_id}. "
              + ("The case was closed as transferred and its personal data erased here." if accepted
                 else "The case stays here.")),
        mail=mail, data={"handover_id": handover_id, "to_tenant": to_tenant, "outcome": outcome})


def watch_goal(
    session: Session, *, tenant: str, goal_id: str, plan_id: str, manager: str | None, area: Topic,
    due_on: date, plan_version: int, case_id: str | None = None,
) -> GoalWatch:
    """Start watching a goal's target date (a repeated or stale announcement changes nothing)."""
    manager = _manager(manager)
    watch = session.get(GoalWatch, goal_id)
    if watch is None:
        watch = GoalWatch(goal_id=goal_id, plan_id=plan_id, case_id=case_id, tenant=tenant, manager=manager,
                          area=area, due_on=due_on, status=GoalStatus.open,
                          plan_version=plan_version, state=WatchState.watching)
        session.add(watch)
    return watch


def reschedule_goal(
    session: Session, *, tenant: str, goal_id: str, plan_id: str, case_id: str, manager: str, area: Topic,
    status: GoalStatus, due_on: date | None, plan_version: int,
) -> GoalWatch | None:
    """Follow a goal's new target date: a new date re-arms the watch (one notice per date), none ends it."""
    watch = session.get(GoalWatch, goal_id)
    if watch is None:
        if due_on is None:
            return None  # a goal without a date that still has none
        watch = watch_goal(session, tenant=tenant, goal_id=goal_id, plan_id=plan_id, manager=manager,
                           area=area, due_on=due_on, plan_version=plan_version, case_id=case_id)
    elif watch.tenant != tenant or plan_version <= watch.plan_version:
        return None  # another tenant's goal id, or an older change arriving late
    watch.status, watch.plan_version, watch.updated_at = status, plan_version, utcnow()
    watch.case_id = watch.case_id or case_id
    if due_on is None:
        watch.state = WatchState.ended
    elif due_on != watch.due_on or watch.state == WatchState.ended:
        watch.due_on, watch.fired_at = due_on, None
        watch.state = WatchState.watching if status in OPEN else WatchState.ended
    session.add(watch)
    return watch


def track_goal_status(
    session: Session, *, tenant: str, goal_id: str, status: GoalStatus, plan_version: int,
) -> GoalWatch | None:
    """Follow a watched goal's status: achieved/dropped ends the watch, reopening re-arms it."""
    watch = session.get(GoalWatch, goal_id)
    if watch is None or watch.tenant != tenant or plan_version < watch.plan_version:
        return None  # a goal without target date, or an older change arriving late
    watch.status, watch.plan_version, watch.updated_at = status, plan_version, utcnow()
    if status in OPEN:
        watch.state = WatchState.fired if watch.fired_at is not None else WatchState.watching
    else:
        watch.state = WatchState.ended
    session.add(watch)
    return watch


def fire_overdue(session: Session, *, today: date, mail: MailConfig) -> list[Notification]:
    """Notify the manager of every watched goal whose target date has passed, once per goal."""
    due = session.exec(select(GoalWatch).where(
        GoalWatch.state == WatchState.watching, col(GoalWatch.due_on) < today,
        col(GoalWatch.status).in_(OPEN)).order_by(col(GoalWatch.due_on)).limit(OVERDUE_BATCH)).all()
    fired: list[Notification] = []
    for watch in due:
        since = watch.due_on + timedelta(days=1)
        try:
            with session.begin_nested():
                # Once per goal and target date: a goal moved to a new date is watched again.
                n = notify(
                    session, tenant=watch.tenant, kind=Kind.goal_overdue,
                    source=f"{watch.goal_id[:88]}@{watch.due_on.isoformat()}",
                    recipient_sub=watch.manager, title=f"Goal {watch.goal_id} is overdue",
                    body=(f"Goal {watch.goal_id} ({watch.area}) of plan {watch.plan_id} is "
                          f"overdue since {since.isoformat()} (target date "
                          f"{watch.due_on.isoformat()}); its status is {watch.status}."),
                    mail=mail, data={
                        "goal_id": watch.goal_id, "plan_id": watch.plan_id, "case_id": watch.case_id or "",
                        "area": watch.area, "status": watch.status, "due_on": watch.due_on.isoformat(),
                        "overdue_since": since.isoformat()})
                watch.state, watch.fired_at, watch.updated_at = WatchState.fired, utcnow(), utcnow()
                session.add(watch)
        except IntegrityError:  # another scheduler process fired this goal at the same moment
            continue
        if n is not None:
            fired.append(n)
    return fired


# -- inbox ------------------------------------------------------------------------------------
def _addressed_to(reader: Principal, statewide_roles: frozenset[str]) -> ColumnElement[bool]:
    """Own and role notifications in the reader's tenants; a statewide role's in any tenant."""
    local = and_(col(Notification.tenant).in_(sorted(reader.tenants)),
                 or_(col(Notification.recipient_sub) == reader.sub,
                     col(Notification.recipient_role).in_(sorted(reader.roles))))
    statewide = sorted(reader.roles & statewide_roles)
    if not statewide:
        return local
    return or_(local, col(Notification.recipient_role).in_(statewide))


def _inbox_query(columns: Any, reader: Principal, unread: bool, statewide_roles: frozenset[str]) -> Any:
    stmt = (select(*columns)
            .join(ReadReceipt, and_(col(ReadReceipt.notification_id) == Notification.id,
                                    col(ReadReceipt.sub) == reader.sub), isouter=True)
            .where(_addressed_to(reader, statewide_roles)))
    return stmt.where(col(ReadReceipt.read_at).is_(None)) if unread else stmt


def inbox(
    session: Session, *, reader: Principal, unread: bool, limit: int,
    statewide_roles: frozenset[str] = frozenset(),
) -> list[tuple[Notification, datetime | None]]:
    """The reader's notifications, newest first, each with when this reader read it."""
    stmt = _inbox_query((Notification, ReadReceipt.read_at), reader, unread, statewide_roles)
    stmt = stmt.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return [(n, read_at) for n, read_at in session.exec(stmt.limit(limit)).all()]


def unread_count(session: Session, *, reader: Principal, statewide_roles: frozenset[str] = frozenset()) -> int:
    """How many of the reader's notifications this reader has not read (the header's counter)."""
    stmt = _inbox_query((func.count(col(Notification.id)),), reader, True, statewide_roles)
    return int(session.exec(stmt).one())


def find_notification(
    session: Session, *, notification_id: str, reader: Principal,
    statewide_roles: frozenset[str] = frozenset(),
) -> Notification | None:
    """One of the reader's notifications; None when missing or someone else's (alike)."""
    return session.exec(select(Notification).where(
        Notification.id == notification_id, _addressed_to(reader, statewide_roles))).first()


def mark_read(session: Session, *, notification: Notification, reader: Principal) -> datetime:
    """Mark a notification read for this reader (the first time counts); when it was read."""
    key = (notification.id, reader.sub)
    receipt = session.get(ReadReceipt, key)
    if receipt is None:
        try:
            with session.begin_nested():
                receipt = ReadReceipt(notification_id=notification.id, sub=reader.sub)
                session.add(receipt)
        except IntegrityError:  # the same reader's concurrent request was first
            receipt = session.get(ReadReceipt, key)
            assert receipt is not None
    return receipt.read_at
