"""The funding domain at municipal level: positions, occupancy, extension applications, decisions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from shared.bus import emit
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import STREAMS, Contract, utcnow
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import (
    ExtensionApplied,
    ExtensionKind,
    ExtensionWithdrawn,
    PositionOccupancyChanged,
    PositionRegistered,
    Qualification,
)
from shared.ids import new_id

from .models import FundingExtensionApplication, FundingOccupancy, FundingPosition
from .terms import FUNDED, MAX_TERM_MONTHS, MONTHS_BY_KIND, add_months, months_asked

# Spelled out rather than "any status": a status added later is not extensible by accident.
EXTENSIBLE = (PositionStatus.approved, PositionStatus.occupied, PositionStatus.vacant)


class DecisionOutcome(StrEnum):
    """What the state's decision did here: applied, or why it changed nothing."""

    approved = "approved"
    rejected = "rejected"
    unknown_application = "unknown application"
    other_tenant = "other tenant"
    other_position = "other position"
    already_decided = "already decided"

    @property
    def applied(self) -> bool:
        return self in (DecisionOutcome.approved, DecisionOutcome.rejected)


def _emit(session: Session, position: FundingPosition, payload: Contract, node: str) -> None:
    emit(session, payload, stream=STREAMS["funding"], tenant=position.tenant, node=node,
         aggregate_id=position.id)


# -- positions --------------------------------------------------------------------------------
def check_term(*, starts_on: date, ends_on: date) -> None:
    """A term ends after it starts and lasts at most MAX_TERM_MONTHS (an approval runs at most 60 months)."""
    if ends_on <= starts_on:
        raise InvalidInput("ends_on", "must be after starts_on")
    if ends_on > add_months(starts_on, MAX_TERM_MONTHS):
        raise InvalidInput("ends_on", f"must be at most {MAX_TERM_MONTHS} months after starts_on")


def register_position(
    session: Session, *, tenant: str, fte: float, starts_on: date, ends_on: date, actor: str, node: str,
    qualification: Qualification = Qualification.vocational,
) -> FundingPosition:
    """Register an approved position and announce it (PositionRegistered)."""
    check_term(starts_on=starts_on, ends_on=ends_on)
    return _add_position(session, tenant=tenant, fte=fte, qualification=qualification, starts_on=starts_on,
                         ends_on=ends_on, status=PositionStatus.approved, actor=actor, node=node)


def _add_position(
    session: Session, *, tenant: str, fte: float, qualification: Qualification, starts_on: date, ends_on: date,
    status: PositionStatus, actor: str, node: str,
) -> FundingPosition:
    position = FundingPosition(id=new_id(), tenant=tenant, fte=fte, qualification=qualification,
                               starts_on=starts_on, ends_on=ends_on, status=status, created_by=actor[:255])
    session.add(position)
    session.flush()  # its occupancy history and applications refer to it
    _emit(session, position, PositionRegistered(
        position_id=position.id, fte=fte, starts_on=starts_on, ends_on=ends_on, status=status,
        qualification=qualification), node)
    return position


def get_position(session: Session, *, position_id: str, for_update: bool = False) -> FundingPosition:
    """The position, locked for the transaction when it is about to change."""
    position = session.get(FundingPosition, position_id, with_for_update=for_update)
    if position is None:
        raise NotFound("position not found")
    return position


def list_positions(
    session: Session, *, tenants: Collection[str], after: str | None = None, limit: int | None = None,
) -> tuple[list[FundingPosition], str | None]:
    """A page of these tenants' positions, oldest term first, after the cursor's; and the next cursor."""
    query = select(FundingPosition).where(col(FundingPosition.tenant).in_(list(tenants)))
    if after is not None:
        last = session.get(FundingPosition, after)
        if last is None or last.tenant not in tenants:
            raise InvalidInput("cursor", "not a cursor of this list")
        query = query.where(or_(col(FundingPosition.starts_on) > last.starts_on,
                                and_(col(FundingPosition.starts_on) == last.starts_on,
                                     col(FundingPosition.id) > last.id)))
    query = query.order_by(col(FundingPosition.starts_on), col(FundingPosition.id))
    if limit is None:
        return list(session.exec(query).all()), None
    found = list(session.exec(query.limit(limit + 1)).all())
    page = found[:limit]
    return page, page[-1].id if len(found) > limit else None


def change_occupancy(
    session: Session, *, position: FundingPosition, occupied: bool, since: date, node: str, actor: str = "",
) -> bool:
    """Mark the position occupied or vacant (re-fillable); False when it already was (no event)."""
    if position.status not in FUNDED:
        raise Conflict(f"position is {position.status}; only an approved position can be occupied")
    if since < position.starts_on:
        raise InvalidInput("since", f"must not be before the position starts ({position.starts_on})")
    if since > position.ends_on:
        raise InvalidInput("since", f"must not be after the position ends ({position.ends_on})")
    if occupied == (position.status == PositionStatus.occupied):
        return False
    if position.status_since is not None and since < position.status_since:
        raise InvalidInput("since", f"must not be before the last occupancy change ({position.status_since})")
    status = PositionStatus.occupied if occupied else PositionStatus.vacant
    position.status, position.status_since, position.updated_at = status, since, utcnow()
    session.add(position)
    session.add(FundingOccupancy(id=new_id(), position_id=position.id, occupied=occupied, since=since,
                                 recorded_by=actor[:255]))
    _emit(session, position, PositionOccupancyChanged(position_id=position.id, occupied=occupied,
                                                      since=since, status=status), node)
    return True


# -- extension applications -------------------------------------------------------------------
def occupancy_history(session: Session, *, position_id: str) -> list[FundingOccupancy]:
    """The position's occupancy changes, oldest first."""
    query = (select(FundingOccupancy).where(FundingOccupancy.position_id == position_id)
             .order_by(col(FundingOccupancy.since), col(FundingOccupancy.id)))
    return list(session.exec(query).all())


def open_application(session: Session, *, position_id: str) -> FundingExtensionApplication | None:
    """The position's application still waiting for the state's decision, if any."""
    query = select(FundingExtensionApplication).where(
        FundingExtensionApplication.position_id == position_id,
        FundingExtensionApplication.status == ApplicationStatus.submitted)
    return session.exec(query).first()


def open_applications(session: Session, *, position_ids: Collection[str]) -> dict[str, str]:
    """The open application's id of each of these positions that has one."""
    if not position_ids:
        return {}
    query = select(FundingExtensionApplication).where(
        col(FundingExtensionApplication.position_id).in_(list(position_ids)),
        FundingExtensionApplication.status == ApplicationStatus.submitted)
    return {a.position_id: a.id for a in session.exec(query).all()}


def check_interruption(
    *, position: FundingPosition, kind: ExtensionKind, interruption_from: date | None,
    interruption_to: date | None,
) -> None:
    """A 12-month extension names the interruption, within the term, from before to; no other kind does."""
    if kind != ExtensionKind.interruption_12_months:
        for field, value in (("interruption_from", interruption_from), ("interruption_to", interruption_to)):
            if value is not None:
                raise InvalidInput(field, "only for kind interruption_12_months")
        return
    if interruption_from is None:
        raise InvalidInput("interruption_from", "required for kind interruption_12_months")
    if interruption_to is None:
        raise InvalidInput("interruption_to", "required for kind interruption_12_months")
    if interruption_from < position.starts_on:
        raise InvalidInput("interruption_from", f"must not be before the position starts ({position.starts_on})")
    if interruption_to <= interruption_from:
        raise InvalidInput("interruption_to", "must be after interruption_from")
    if interruption_to > position.ends_on:
        raise InvalidInput("interruption_to", f"must not be after the position ends ({position.ends_on})")


def apply_for_extension(
    session: Session, *, position: FundingPosition, justification: str, actor: str, today: date,
    node: str, kind: ExtensionKind = ExtensionKind.extension_24_months, interruption_from: date | None = None,
    interruption_to: date | None = None,
) -> FundingExtensionApplication:
    """Apply to extend the position by the kind's months (ExtensionApplied); Conflict if it cannot be."""
    if kind == ExtensionKind.new_position:
        raise InvalidInput("kind", "a new position is applied for with POST /new-position-applications")
    check_interruption(position=position, kind=kind, interruption_from=interruption_from,
                       interruption_to=interruption_to)
    if position.ends_on < today:
        raise Conflict(f"position ended on {position.ends_on}")
    if position.status not in EXTENSIBLE:
        raise Conflict(f"position is {position.status}; only approved, occupied or re-fillable "
                       "positions can be extended")
    pending = open_application(session, position_id=position.id)
    if pending is not None:
        raise Conflict(f"position already has open application {pending.id}")
    return _submit(session, position=position, kind=kind, current_ends_on=position.ends_on,
                   requested_ends_on=add_months(position.ends_on, MONTHS_BY_KIND[kind]),
                   justification=justification, actor=actor, today=today, node=node,
                   interruption_from=interruption_from, interruption_to=interruption_to)


def _submit(
    session: Session, *, position: FundingPosition, kind: ExtensionKind, current_ends_on: date,
    requested_ends_on: date, justification: str, actor: str, today: date, node: str,
    interruption_from: date | None = None, interruption_to: date | None = None,
) -> FundingExtensionApplication:
    application = FundingExtensionApplication(
        id=new_id(), tenant=position.tenant, position_id=position.id, status=ApplicationStatus.submitted,
        kind=kind, applied_on=today, current_ends_on=current_ends_on, requested_ends_on=requested_ends_on,
        interruption_from=interruption_from, interruption_to=interruption_to,
        justification=justification, applied_by=actor[:255])
    session.add(application)
    # The justification goes up with the application: the officer deciding it reads it.
    _emit(session, position, ExtensionApplied(
        application_id=application.id, position_id=position.id, applied_on=today,
        current_ends_on=current_ends_on, requested_ends_on=requested_ends_on,
        kind=kind, justification=justification, interruption_from=interruption_from,
        interruption_to=interruption_to), node)
    return application


def apply_for_new_position(
    session: Session, *, tenant: str, fte: float, qualification: Qualification, starts_on: date, months: int,
    justification: str, actor: str, today: date, node: str,
) -> FundingExtensionApplication:
    """Apply to the state for a new position: it is registered as `applied` (funded nowhere) with its application.

    The application asks to fund the position from its start (`current_ends_on`) for the months applied for;
    the state's approval makes it approved with the term granted.
    """
    if not 1 <= months <= MAX_TERM_MONTHS:
        raise InvalidInput("months", f"must be 1 to {MAX_TERM_MONTHS}")
    ends_on = add_months(starts_on, months)
    if ends_on < today:
        raise InvalidInput("starts_on", f"the term applied for would have ended on {ends_on}")
    position = _add_position(session, tenant=tenant, fte=fte, qualification=qualification, starts_on=starts_on,
                             ends_on=ends_on, status=PositionStatus.applied, actor=actor, node=node)
    return _submit(session, position=position, kind=ExtensionKind.new_position, current_ends_on=starts_on,
                   requested_ends_on=ends_on, justification=justification, actor=actor, today=today, node=node)


def get_application(
    session: Session, *, application_id: str, for_update: bool = False,
) -> FundingExtensionApplication:
    """The application, whichever position it is for; locked when it is about to change."""
    application = session.get(FundingExtensionApplication, application_id, with_for_update=for_update)
    if application is None:
        raise NotFound("extension application not found")
    return application


def list_applications(session: Session, *, position_id: str) -> list[FundingExtensionApplication]:
    """The position's applications, newest first."""
    query = (select(FundingExtensionApplication)
             .where(FundingExtensionApplication.position_id == position_id)
             .order_by(col(FundingExtensionApplication.id).desc()))
    return list(session.exec(query).all())


def withdraw_application(
    session: Session, *, application: FundingExtensionApplication, today: date, node: str,
) -> FundingExtensionApplication:
    """Withdraw an application the state has not decided yet (ExtensionWithdrawn); Conflict otherwise."""
    if application.status != ApplicationStatus.submitted:
        raise Conflict(f"extension application is {application.status}; only a submitted one can be withdrawn")
    application.status, application.withdrawn_on = ApplicationStatus.withdrawn, today
    session.add(application)
    if application.kind == ExtensionKind.new_position:
        _settle_new_position(session, application=application, status=PositionStatus.withdrawn)
    emit(session, ExtensionWithdrawn(application_id=application.id, position_id=application.position_id,
                                     withdrawn_on=today),
         stream=STREAMS["funding"], tenant=application.tenant, node=node, aggregate_id=application.position_id)
    return application


def applications_of(session: Session, *, tenants: Collection[str]) -> list[FundingExtensionApplication]:
    """Every application of these tenants, oldest first."""
    query = (select(FundingExtensionApplication)
             .where(col(FundingExtensionApplication.tenant).in_(list(tenants)))
             .order_by(col(FundingExtensionApplication.applied_on), col(FundingExtensionApplication.id)))
    return list(session.exec(query).all())


def decide_extension(
    session: Session, *, tenant: str, application_id: str, position_id: str, approved: bool,
    decided_on: date, reason: str | None, event_id: str, months: int | None = None,
) -> DecisionOutcome:
    """Record the state's decision; on approval the position's term moves by the months approved.

    A decision that is not for one of our open applications changes nothing; the outcome says why.
    """
    application = session.get(FundingExtensionApplication, application_id, with_for_update=True)
    if application is None:
        return DecisionOutcome.unknown_application
    if application.tenant != tenant:
        return DecisionOutcome.other_tenant
    if application.position_id != position_id:
        return DecisionOutcome.other_position
    if application.status != ApplicationStatus.submitted:
        return DecisionOutcome.already_decided
    application.status = ApplicationStatus.approved if approved else ApplicationStatus.rejected
    application.decided_on, application.reason = decided_on, reason
    application.decision_event_id = event_id
    kind = ExtensionKind(application.kind)
    granted = months_asked(kind=kind, current_ends_on=application.current_ends_on,
                           requested_ends_on=application.requested_ends_on) if months is None else months
    application.granted_months = granted if approved else None
    session.add(application)
    if kind == ExtensionKind.new_position:
        _settle_new_position(session, application=application,
                             status=PositionStatus.approved if approved else PositionStatus.refused)
    if approved:
        position = get_position(session, position_id=position_id, for_update=True)
        # = ends_on (a new position's: its start) + the months approved: one open application at a time,
        # and nothing else moves ends_on
        position.ends_on = add_months(application.current_ends_on, granted)
        position.updated_at = utcnow()
        session.add(position)
    return DecisionOutcome.approved if approved else DecisionOutcome.rejected


def _settle_new_position(session: Session, *, application: FundingExtensionApplication, status: PositionStatus) -> None:
    """A new position's application ended: the position is approved, refused or withdrawn with it."""
    position = get_position(session, position_id=application.position_id, for_update=True)
    position.status, position.updated_at = status, utcnow()
    session.add(position)
