"""The funding domain at state level: the statewide position register and the extension decisions."""

from __future__ import annotations

import logging
from datetime import date

from sqlmodel import Session, col, select

from shared.bus import emit
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope, utcnow
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import ExtensionDecided, ExtensionKind, FundingYearSet, Qualification
from shared.federation.keys import DOWN_ALL, STATE_TENANT, down_stream

from .. import years
from ..models import FundingYearBase
from ..terms import add_months, months_asked
from .models import ID_MAX, FundingStateApplication, FundingStatePosition, FundingStateYear

log = logging.getLogger(__name__)


class PositionNotYetKnown(Exception):
    """An occupancy change for a position whose registration has not arrived (yet): retried."""


class ApplicationNotYetKnown(Exception):
    """A withdrawal of an application that has not arrived (yet): retried."""


class MalformedEvent(ValueError):
    """An event whose ids cannot be stored: retried, then dead-lettered."""


def _check_ids(**ids: str) -> None:
    for name, value in ids.items():
        if not 0 < len(value) <= ID_MAX:
            raise MalformedEvent(f"{name}: must be 1-{ID_MAX} characters")


# -- the register (events from the municipal nodes) -------------------------------------------
def record_position(
    session: Session, *, node: str, tenant: str, position_id: str, fte: float, status: PositionStatus,
    starts_on: date, ends_on: date, qualification: Qualification | None = None,
) -> bool:
    """Add a registered position to the register; False when it is already there."""
    _check_ids(position_id=position_id)
    if session.get(FundingStatePosition, (node, position_id)) is not None:
        return False
    session.add(FundingStatePosition(node=node, position_id=position_id, tenant=tenant, fte=fte,
                                     qualification=qualification or Qualification.vocational,
                                     status=status, starts_on=starts_on, ends_on=ends_on))
    session.flush()  # a concurrent first delivery fails here, on the primary key, and retries
    return True


def record_occupancy(
    session: Session, *, node: str, position_id: str, status: PositionStatus, since: date,
) -> bool:
    """Set the position's status; False for a change older than the one already recorded."""
    _check_ids(position_id=position_id)
    position = session.get(FundingStatePosition, (node, position_id), with_for_update=True)
    if position is None:
        # Raise so the bus retries: the link delivers per aggregate in order, so it is on its way.
        raise PositionNotYetKnown(f"position {node}/{position_id} is not registered (yet)")
    if position.status_since is not None and since < position.status_since:
        log.info("ignoring occupancy change of %s/%s since %s, older than %s", node, position_id,
                 since, position.status_since)
        return False
    position.status, position.status_since, position.updated_at = status, since, utcnow()
    session.add(position)
    return True


def receive_application(
    session: Session, *, node: str, tenant: str, application_id: str, position_id: str,
    applied_on: date, current_ends_on: date, requested_ends_on: date,
    kind: ExtensionKind = ExtensionKind.extension_24_months, justification: str | None = None,
    interruption_from: date | None = None, interruption_to: date | None = None,
) -> bool:
    """Keep the state's copy of an application, status submitted; False when already received."""
    _check_ids(application_id=application_id, position_id=position_id)
    known = session.get(FundingStateApplication, application_id)
    if known is not None:
        if known.node != node:
            log.warning("ignoring ExtensionApplied %s from %s: the id is taken by node %s",
                        application_id, node, known.node)
        return False
    session.add(FundingStateApplication(
        id=application_id, node=node, tenant=tenant, position_id=position_id,
        status=ApplicationStatus.submitted, kind=kind, applied_on=applied_on, current_ends_on=current_ends_on,
        requested_ends_on=requested_ends_on, interruption_from=interruption_from,
        interruption_to=interruption_to, justification=justification))
    session.flush()
    return True


# -- funding years ----------------------------------------------------------------------------
def set_year(
    session: Session, *, year: int, budget_eur: int, rates_eur: dict[Qualification, int], node: str,
) -> FundingYearBase:
    """Set (or change) a funding year and send it down to every node (FundingYearSet) in the same commit."""
    row = years.store_year(session, year=year, budget_eur=budget_eur, rates_eur=rates_eur, model=FundingStateYear)
    emit(session, FundingYearSet(year=year, budget_eur=budget_eur, rates_eur=rates_eur),
         stream=DOWN_ALL, tenant=STATE_TENANT, node=node, aggregate_id=f"year-{year}", target_node="*")
    return row


def find_position(session: Session, *, position_id: str) -> FundingStatePosition:
    """A position of the register by its municipal id (ids are unique across nodes)."""
    query = select(FundingStatePosition).where(FundingStatePosition.position_id == position_id)
    position = session.exec(query).first()
    if position is None:
        raise NotFound("position not found")
    return position


# -- reads ------------------------------------------------------------------------------------
def register(session: Session, *, tenant: str | None) -> list[FundingStatePosition]:
    """The statewide register (or one municipality's part), by tenant, then oldest term first."""
    query = select(FundingStatePosition)
    if tenant is not None:
        query = query.where(FundingStatePosition.tenant == tenant)
    query = query.order_by(col(FundingStatePosition.tenant), col(FundingStatePosition.starts_on),
                           col(FundingStatePosition.node), col(FundingStatePosition.position_id))
    return list(session.exec(query).all())


def applications(session: Session, *, status: ApplicationStatus | None) -> list[FundingStateApplication]:
    """Every node's applications (optionally of one status), oldest first."""
    query = select(FundingStateApplication)
    if status is not None:
        query = query.where(FundingStateApplication.status == status)
    query = query.order_by(col(FundingStateApplication.applied_on), col(FundingStateApplication.id))
    return list(session.exec(query).all())


def get_application(
    session: Session, *, application_id: str, for_update: bool = False,
) -> FundingStateApplication:
    """The application, locked for the transaction when it is about to be decided."""
    application = session.get(FundingStateApplication, application_id, with_for_update=for_update)
    if application is None:
        raise NotFound("extension application not found")
    return application


# -- the decision -----------------------------------------------------------------------------
def decide(
    session: Session, *, application: FundingStateApplication, approved: bool, reason: str | None,
    actor: str, today: date, node: str, months: int | None = None,
) -> Envelope:
    """Decide a submitted application and send ExtensionDecided down to the applying node.

    A rejection needs a reason, and so does an approval of fewer months than asked. On approval the
    register's term moves by the months approved, as the applying node moves its own; a new position
    becomes approved with the term granted, or refused.
    """
    reason = (reason or "").strip() or None
    kind = ExtensionKind(application.kind)
    asked = months_asked(kind=kind, current_ends_on=application.current_ends_on,
                         requested_ends_on=application.requested_ends_on)
    if months is not None and not approved:
        raise InvalidInput("months", "only for an approval")
    if months is not None and months > asked:
        raise InvalidInput("months", f"must be at most the {asked} months asked for")
    granted = asked if months is None else months
    if not approved and reason is None:
        raise InvalidInput("reason", "required for a rejection")
    if approved and granted < asked and reason is None:
        raise InvalidInput("reason", "required for an approval of fewer months than asked")
    if application.status == ApplicationStatus.withdrawn:
        raise Conflict(f"extension application was withdrawn on {application.withdrawn_on}")
    if application.status != ApplicationStatus.submitted:
        raise Conflict(f"extension application already {application.status} on {application.decided_on}")
    application.status = ApplicationStatus.approved if approved else ApplicationStatus.rejected
    application.decided_on, application.reason = today, reason
    application.granted_months = granted if approved else None
    application.decided_by = actor[:255]
    session.add(application)
    position = session.get(FundingStatePosition, (application.node, application.position_id), with_for_update=True)
    if position is None:
        log.warning("decided application %s for position %s/%s missing from the register",
                    application.id, application.node, application.position_id)
    elif kind == ExtensionKind.new_position:
        position.status = PositionStatus.approved if approved else PositionStatus.refused
        position.ends_on = add_months(application.current_ends_on, granted) if approved else position.ends_on
        position.updated_at = utcnow()
        session.add(position)
    elif approved:
        position.ends_on = add_months(position.ends_on, granted)
        position.updated_at = utcnow()
        session.add(position)
    return emit(session, ExtensionDecided(
        application_id=application.id, position_id=application.position_id, approved=approved,
        decided_on=today, reason=reason, months=granted if approved and granted < asked else None, kind=kind),
        stream=down_stream(application.node), tenant=application.tenant, node=node,
        aggregate_id=application.position_id, target_node=application.node)


def record_withdrawal(session: Session, *, node: str, application_id: str, withdrawn_on: date) -> bool:
    """The municipality withdrew its application; False when it was decided first (the decision stands)."""
    _check_ids(application_id=application_id)
    application = session.get(FundingStateApplication, application_id, with_for_update=True)
    if application is None:
        # Raise so the bus retries: the application travels before its withdrawal, per aggregate.
        raise ApplicationNotYetKnown(f"application {node}/{application_id} not received (yet)")
    if application.node != node or application.status != ApplicationStatus.submitted:
        log.info("ignoring the withdrawal of %s from %s: it is %s", application_id, node, application.status)
        return False
    application.status, application.withdrawn_on = ApplicationStatus.withdrawn, withdrawn_on
    session.add(application)
    position = session.get(FundingStatePosition, (node, application.position_id), with_for_update=True)
    if application.kind == ExtensionKind.new_position and position is not None:
        position.status, position.updated_at = PositionStatus.withdrawn, utcnow()
        session.add(position)
    return True
