"""Subscriptions of the plans service at municipal level: the case's life becomes calls of service.py."""

from __future__ import annotations

import logging

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.service import ServiceContext

from . import service

log = logging.getLogger(__name__)
GROUP = "plans"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A plan per opened case of this node's municipalities; the node attaches the database."""
    served = frozenset(ctx.settings.tenants)

    def ours(env: Envelope) -> bool:
        if env.tenant in served:
            return True
        # Retrying could never help: the event is simply not for this node's municipalities.
        log.warning("ignoring %s %s for tenant %s, not served here", env.type, env.event_id,
                    env.tenant)
        return False

    def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
        if ours(env):
            service.open_plan(session, case_id=p.case_id, tenant=env.tenant, manager=p.manager)

    def on_consultation_recorded(session: Session, env: Envelope, p: ConsultationRecorded) -> None:
        # No plan yet: raise so the bus retries; a lazy plan would lack CaseOpened's manager.
        if ours(env):
            service.record_contact(session, case_id=p.case_id, tenant=env.tenant,
                                   held_on=p.held_on)

    def on_case_closed(session: Session, env: Envelope, p: CaseClosed) -> None:
        if ours(env):
            service.close_plan(session, case_id=p.case_id, tenant=env.tenant,
                               closed_on=p.closed_on)

    return [Subscription(
        STREAMS["cases"], GROUP,
        {CaseOpened.event_type: on_case_opened,
         ConsultationRecorded.event_type: on_consultation_recorded,
         CaseClosed.event_type: on_case_closed},
        description="a plan per opened case: its last contact and its closure")]
