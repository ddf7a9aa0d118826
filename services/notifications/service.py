"""The notifications domain: rules turning events into notifications, inboxes, goal watches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from ulid import ULID

from shared import http
from shared.auth import Principal
from shared.events import utcnow
from shared.events.codes import GoalStatus

from . import mailer
from .mailer import MailConfig
from .models import SUB_MAX, GoalWatch, Notification, ReadReceipt

OPEN: tuple[GoalStatus, ...] = ("open", "in_progress")
OVERDUE_BATCH = 500
# State users are statewide: their roles' notifications reach them whatever tenants the token names.
STATE_ROLES = frozenset(http.STATE_ROLES)


class NotFound(Exception):
    """No such notification (or not one the caller may see)."""


class Unaddressable(Exception):
    """An event names a recipient this service cannot store; the bus dead-letters it."""


def notify(
    session: Session, *, tenant: str, kind: str, source: str, title: str, body: str,
    mail: MailConfig, recipient_sub: str | None = None, recipient_role: str | None = None,
) -> Notification | None:
    """Create a notification and its mail row, once per (kind, source); None if it exists."""
    if recipient_sub is not None and not 0 < len(recipient_sub) <= SUB_MAX:
        raise Unaddressable(f"recipient id must have 1 to {SUB_MAX} characters")
    exists = session.exec(select(Notification.id).where(
        Notification.kind == kind, Notification.source == source)).first()
    if exists is not None:
        return None
    n = Notification(id=str(ULID()), tenant=tenant, kind=kind, source=source, title=title,
                     body=body, recipient_sub=recipient_sub, recipient_role=recipient_role)
    session.add(n)
    session.flush()  # the mail row refers to it
    mailer.enqueue(session, n, mail)
    return n


def _manager(manager: str | None) -> str:
    """The manager an event names (local-only: absent once an event has been at the state)."""
    if manager is None or not 0 < len(manager) <= SUB_MAX:
        raise Unaddressable(f"manager id must have 1 to {SUB_MAX} characters")
    return manager


# -- rules ------------------------------------------------------------------------------------
def announce_extension_decision(
    session: Session, *, tenant: str, source: str, application_id: str, position_id: str,
    approved: bool, decided_on: date, mail: MailConfig,
) -> Notification | None:
    """Tell the municipality's lead how the state decided an extension application."""
    outcome = "approved" if approved else "rejected"
    return notify(
        session, tenant=tenant, kind="extension_decided", source=source, recipient_role="lead",
        title=f"Extension {outcome} for position {position_id}"[:200],
        body=(f"The state {outcome} extension application {application_id} for position "
              f"{position_id} on {decided_on.isoformat()}.")[:2000], mail=mail)


def confirm_case_opened(
    session: Session, *, tenant: str, source: str, case_id: str, manager: str | None,
    opened_on: date, mail: MailConfig,
) -> Notification | None:
    """Confirm to the case's manager that the case file was opened."""
    return notify(
        session, tenant=tenant, kind="case_opened", source=source, recipient_sub=_manager(manager),
        title=f"Case {case_id} opened"[:200],
        body=(f"Case {case_id} was opened on {opened_on.isoformat()} "
              "with you as its manager.")[:2000], mail=mail)


def watch_goal(
    session: Session, *, tenant: str, goal_id: str, plan_id: str, manager: str | None, area: str,
    due_on: date, plan_version: int,
) -> GoalWatch:
    """Start watching a goal's target date (a repeated or stale announcement changes nothing)."""
    manager = _manager(manager)
    watch = session.get(GoalWatch, goal_id)
    if watch is None:
        watch = GoalWatch(goal_id=goal_id, plan_id=plan_id, tenant=tenant, manager=manager,
                          area=area, due_on=due_on, status="open", plan_version=plan_version,
                          state="watching")
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
        watch.state = "fired" if watch.fired_at is not None else "watching"
    else:
        watch.state = "ended"
    session.add(watch)
    return watch


def fire_overdue(session: Session, *, today: date, mail: MailConfig) -> list[Notification]:
    """Notify the manager of every watched goal whose target date has passed, once per goal."""
    due = session.exec(select(GoalWatch).where(
        GoalWatch.state == "watching", col(GoalWatch.due_on) < today,
        col(GoalWatch.status).in_(OPEN)).order_by(col(GoalWatch.due_on)).limit(OVERDUE_BATCH)).all()
    fired: list[Notification] = []
    for watch in due:
        since = watch.due_on + timedelta(days=1)
        try:
            with session.begin_nested():
                n = notify(
                    session, tenant=watch.tenant, kind="goal_overdue", source=watch.goal_id,
                    recipient_sub=watch.manager, title=f"Goal {watch.goal_id} is overdue"[:200],
                    body=(f"Goal {watch.goal_id} ({watch.area}) of plan {watch.plan_id} is "
                          f"overdue since {since.isoformat()} (target date "
                          f"{watch.due_on.isoformat()}); its status is {watch.status}.")[:2000],
                    mail=mail)
                watch.state, watch.fired_at, watch.updated_at = "fired", utcnow(), utcnow()
                session.add(watch)
        except IntegrityError:  # another scheduler process fired this goal at the same moment
            continue
        if n is not None:
            fired.append(n)
    return fired


def _last_seen(last_seen_at: str | None) -> str:
    """An ISO timestamp as UTC minutes; anything else verbatim (shortened), "never" when absent."""
    if last_seen_at is None:
        return "never"
    try:
        seen = datetime.fromisoformat(last_seen_at)
    except ValueError:
        return last_seen_at[:64]
    seen = seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen.astimezone(UTC)
    return seen.strftime("%Y-%m-%d %H:%M UTC")


def alert_node_silent(
    session: Session, *, tenant: str, source: str, node_id: str, silent_for_s: int,
    last_seen_at: str | None, mail: MailConfig,
) -> Notification | None:
    """Tell the state operators that a municipal node has gone silent (once per alert event)."""
    silence = f"node {node_id} silent for {silent_for_s // 60} min"
    return notify(
        session, tenant=tenant, kind="node_silent", source=source,
        recipient_role="state_operator", title=silence[:200],
        body=(f"{silence} (last seen {_last_seen(last_seen_at)}). Its heartbeat, relay lag and "
              "dead letters are listed under /api/federation/v1/nodes.")[:2000], mail=mail)


# -- inbox ------------------------------------------------------------------------------------
def _addressed_to(reader: Principal, *, statewide: bool) -> ColumnElement[bool]:
    """Own and role notifications in the reader's tenants; statewide: a state role's in any."""
    local = and_(col(Notification.tenant).in_(sorted(reader.tenants)),
                 or_(col(Notification.recipient_sub) == reader.sub,
                     col(Notification.recipient_role).in_(sorted(reader.roles))))
    state_roles = sorted(reader.roles & STATE_ROLES) if statewide else []
    if not state_roles:
        return local
    return or_(local, col(Notification.recipient_role).in_(state_roles))


def inbox(
    session: Session, *, reader: Principal, unread: bool, limit: int, statewide: bool = False,
) -> list[tuple[Notification, datetime | None]]:
    """The reader's notifications, newest first, each with when this reader read it."""
    stmt = (select(Notification, ReadReceipt.read_at)
            .join(ReadReceipt, and_(col(ReadReceipt.notification_id) == Notification.id,
                                    col(ReadReceipt.sub) == reader.sub), isouter=True)
            .where(_addressed_to(reader, statewide=statewide)))
    if unread:
        stmt = stmt.where(col(ReadReceipt.read_at).is_(None))
    stmt = stmt.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return [(n, read_at) for n, read_at in session.exec(stmt.limit(limit)).all()]


def mark_read(
    session: Session, *, notification_id: str, reader: Principal, statewide: bool = False,
) -> tuple[Notification, datetime]:
    """Mark one of the reader's notifications read (the first time counts)."""
    n = session.exec(select(Notification).where(
        Notification.id == notification_id, _addressed_to(reader, statewide=statewide))).first()
    if n is None:
        raise NotFound("no such notification")
    key = (notification_id, reader.sub)
    receipt = session.get(ReadReceipt, key)
    if receipt is None:
        try:
            with session.begin_nested():
                receipt = ReadReceipt(notification_id=notification_id, sub=reader.sub)
                session.add(receipt)
        except IntegrityError:  # the same reader's concurrent request was first
            receipt = session.get(ReadReceipt, key)
            assert receipt is not None
    return n, receipt.read_at
