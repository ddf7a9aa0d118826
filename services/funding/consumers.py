"""Subscriptions of the funding service at municipal level: the state's decisions become calls of service.py."""

from __future__ import annotations

import logging

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.funding import ExtensionDecided
from shared.service import ServiceContext

from . import service

log = logging.getLogger(__name__)
GROUP = "funding"


def on_extension_decided(session: Session, env: Envelope, payload: ExtensionDecided) -> None:
    """Apply the state's decision to our application; one that is not ours is logged and dropped."""
    outcome = service.decide_extension(
        session, tenant=env.tenant, application_id=payload.application_id, position_id=payload.position_id,
        approved=payload.approved, decided_on=payload.decided_on, reason=payload.reason, event_id=env.event_id)
    if not outcome.applied:
        # Raising would only retry it into the dead letters: the decision is simply not for us.
        log.warning("ignoring ExtensionDecided %s (tenant %s, application %s): %s",
                    env.event_id, env.tenant, payload.application_id, outcome)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A municipal node hears the state's decisions on its applications (sent down the link)."""
    return [Subscription(STREAMS["federation"], GROUP, {ExtensionDecided.event_type: on_extension_decided},
                         description="extension decisions from the state node")]
