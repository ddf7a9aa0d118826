"""Subscriptions of the funding service at state level: every municipal node's events, as the link republishes them."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.funding import (
    ExtensionApplied,
    ExtensionWithdrawn,
    KeyFiguresSubmitted,
    PositionOccupancyChanged,
    PositionRegistered,
)
from shared.service import ServiceContext

from . import figures, service

GROUP = "funding"


def on_position_registered(session: Session, env: Envelope, p: PositionRegistered) -> None:
    """A municipality registered a position: add it to the register."""
    service.record_position(session, node=env.node, tenant=env.tenant, position_id=p.position_id, fte=p.fte,
                            status=p.status, starts_on=p.starts_on, ends_on=p.ends_on,
                            qualification=p.qualification)


def on_occupancy_changed(session: Session, env: Envelope, p: PositionOccupancyChanged) -> None:
    """A position became occupied or vacant: update the register."""
    service.record_occupancy(session, node=env.node, position_id=p.position_id, status=p.status, since=p.since)


def on_extension_applied(session: Session, env: Envelope, p: ExtensionApplied) -> None:
    """A municipality applied for an extension: keep the state's copy to decide."""
    service.receive_application(
        session, node=env.node, tenant=env.tenant, application_id=p.application_id, position_id=p.position_id,
        applied_on=p.applied_on, current_ends_on=p.current_ends_on, requested_ends_on=p.requested_ends_on,
        kind=p.kind, justification=p.justification, interruption_from=p.interruption_from,
        interruption_to=p.interruption_to)


def on_extension_withdrawn(session: Session, env: Envelope, p: ExtensionWithdrawn) -> None:
    """A municipality withdrew an application: it leaves the queue unless already decided."""
    service.record_withdrawal(session, node=env.node, application_id=p.application_id, withdrawn_on=p.withdrawn_on)


def on_key_figures_submitted(session: Session, env: Envelope, p: KeyFiguresSubmitted) -> None:
    """A municipality submitted its annual figures: kept for the year's overview and totals."""
    figures.record(session, node=env.node, tenant=env.tenant, payload=p)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The state keeps the statewide position register and every node's applications."""
    return [Subscription(
        STREAMS["funding"], GROUP,
        {PositionRegistered.event_type: on_position_registered,
         PositionOccupancyChanged.event_type: on_occupancy_changed,
         ExtensionApplied.event_type: on_extension_applied,
         ExtensionWithdrawn.event_type: on_extension_withdrawn,
         KeyFiguresSubmitted.event_type: on_key_figures_submitted},
        description="the statewide position register, extension applications and annual figures")]
