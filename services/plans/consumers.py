"""Subscriptions of the plans service at municipal level: the case's life becomes calls of service.py."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription, for_tenants
from shared.events import STREAMS, Envelope
from shared.events.cases import (
    BreakGlassOpened,
    CaseClosed,
    CaseErased,
    CaseOpened,
    CaseReassigned,
    ConsultationRecorded,
)
from shared.service import ServiceContext

from . import erasure, service, stand_ins

GROUP = "plans"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A plan per opened case of this node's municipalities; the node attaches the database."""
    ours = for_tenants(ctx.settings.tenants)

    @ours
    def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
        service.open_plan(session, case_id=p.case_id, tenant=env.tenant, manager=p.manager)

    @ours
    def on_consultation_recorded(session: Session, env: Envelope, p: ConsultationRecorded) -> None:
        # No plan yet: raise so the bus retries; a lazy plan would lack CaseOpened's manager.
        service.record_contact(session, case_id=p.case_id, tenant=env.tenant, held_on=p.held_on)

    @ours
    def on_case_closed(session: Session, env: Envelope, p: CaseClosed) -> None:
        service.close_plan(session, case_id=p.case_id, tenant=env.tenant, closed_on=p.closed_on)

    @ours
    def on_case_reassigned(session: Session, env: Envelope, p: CaseReassigned) -> None:
        service.reassign_plan(session, case_id=p.case_id, tenant=env.tenant, manager=p.manager)

    @ours
    def on_case_erased(session: Session, env: Envelope, p: CaseErased) -> None:
        erasure.erase_plan(session, case_id=p.case_id, tenant=env.tenant, erased_on=p.erased_on)

    @ours
    def on_break_glass_opened(session: Session, env: Envelope, p: BreakGlassOpened) -> None:
        stand_ins.remember(session, event_id=env.event_id, case_id=p.case_id, tenant=env.tenant, manager=p.manager,
                           until=p.until)

    return [Subscription(
        STREAMS["cases"], GROUP,
        {CaseOpened.event_type: on_case_opened,
         ConsultationRecorded.event_type: on_consultation_recorded,
         CaseClosed.event_type: on_case_closed,
         CaseReassigned.event_type: on_case_reassigned,
         CaseErased.event_type: on_case_erased,
         BreakGlassOpened.event_type: on_break_glass_opened},
        description="a plan per opened case: its last contact, its manager, its closure, its erasure and the "
                    "stand-ins let in by break-glass")]
