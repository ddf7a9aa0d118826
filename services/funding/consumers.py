"""Subscriptions of the funding service: events become calls of service.py."""

from __future__ import annotations

import logging

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.funding import (
    ExtensionApplied,
    ExtensionDecided,
    PositionOccupancyChanged,
    PositionRegistered,
)
from shared.service import ServiceContext

from . import authority, service

log = logging.getLogger(__name__)
GROUP = "funding"


def on_extension_decided(session: Session, env: Envelope, payload: ExtensionDecided) -> None:
    """Apply the state's decision to our application; one that is not ours is logged and dropped."""
    outcome = service.decide_extension(
        session, tenant=env.tenant, application_id=payload.application_id,
        position_id=payload.position_id, approved=payload.approved, decided_on=payload.decided_on,
        reason=payload.reason, event_id=env.event_id)
    if outcome not in ("approved", "rejected"):
        # Raising would only retry it into the dead letters: the decision is simply not for us.
        log.warning("ignoring ExtensionDecided %s (tenant %s, application %s): %s",
                    env.event_id, env.tenant, payload.application_id, outcome)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The consumer groups for this node's level."""
    if ctx.settings.level == "state":
        return state_subscriptions(ctx)
    return municipal_subscriptions(ctx)


def municipal_subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A municipal node hears the state's decisions on its applications (sent down the link)."""
    return [Subscription(
        STREAMS["federation"], GROUP, {ExtensionDecided.event_type: on_extension_decided},
        description="extension decisions from the state node", payloads=[ExtensionDecided])]


# -- state level: events of every municipal node, as the federation link republishes them ------
def on_position_registered(session: Session, env: Envelope, p: PositionRegistered) -> None:
    authority.record_position(session, node=env.node, tenant=env.tenant,
                              position_id=p.position_id, fte=p.fte, status=p.status,
                              starts_on=p.starts_on, ends_on=p.ends_on)


def on_occupancy_changed(session: Session, env: Envelope, p: PositionOccupancyChanged) -> None:
    authority.record_occupancy(session, node=env.node, position_id=p.position_id,
                               status=p.status, since=p.since)


def on_extension_applied(session: Session, env: Envelope, p: ExtensionApplied) -> None:
    authority.receive_application(
        session, node=env.node, tenant=env.tenant, application_id=p.application_id,
        position_id=p.position_id, applied_on=p.applied_on, current_ends_on=p.current_ends_on,
        requested_ends_on=p.requested_ends_on)


def state_subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The state keeps the statewide position register and every node's applications."""
    return [Subscription(
        STREAMS["funding"], GROUP,
        {PositionRegistered.event_type: on_position_registered,
         PositionOccupancyChanged.event_type: on_occupancy_changed,
         ExtensionApplied.event_type: on_extension_applied},
        description="the statewide position register and extension applications",
        payloads=[PositionRegistered, PositionOccupancyChanged, ExtensionApplied])]
