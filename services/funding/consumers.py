"""Subscriptions of the funding service at municipal level: the state's decisions become calls of service.py."""

from __future__ import annotations

import logging

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.funding import ExtensionDecided, FundingYearSet
from shared.service import ServiceContext

from . import letters, service, years

log = logging.getLogger(__name__)
GROUP = "funding"


def on_extension_decided(session: Session, env: Envelope, payload: ExtensionDecided) -> None:
    """Apply the state's decision to our application and print its letter; one not ours is logged and dropped."""
    outcome = service.decide_extension(
        session, tenant=env.tenant, application_id=payload.application_id, position_id=payload.position_id,
        approved=payload.approved, decided_on=payload.decided_on, reason=payload.reason, event_id=env.event_id,
        months=payload.months)
    if outcome.applied:
        # The letter is printed in the same transaction: a decision is never recorded without it.
        application = service.get_application(session, application_id=payload.application_id)
        letters.print_letter(session, application=application,
                             position=service.get_position(session, position_id=payload.position_id))
    else:
        # Raising would only retry it into the dead letters: the decision is simply not for us.
        log.warning("ignoring ExtensionDecided %s (tenant %s, application %s): %s",
                    env.event_id, env.tenant, payload.application_id, outcome)


def on_funding_year_set(session: Session, env: Envelope, payload: FundingYearSet) -> None:
    """Keep the state's funding year: this node computes grants at the same rates."""
    years.store_year(session, year=payload.year, budget_eur=payload.budget_eur, rates_eur=payload.rates_eur)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A municipal node hears the state's decisions on its applications and its funding years (sent down)."""
    return [Subscription(STREAMS["federation"], GROUP, {ExtensionDecided.event_type: on_extension_decided,
                                                        FundingYearSet.event_type: on_funding_year_set},
                         description="extension decisions and funding years from the state node")]
