"""Subscriptions of the plans service at municipal level: the case's life becomes calls of service.py."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription, batched, for_tenants
from shared.events import STREAMS, Envelope
from shared.events.cases import (
    BreakGlassOpened,
    CaseClosed,
    CaseErased,
    CaseOpened,
    CaseReassigned,
    ConsultationRecorded,
)
from shared.events.handover import HandoverAnswered, HandoverStarted, PlanHandedOver
from shared.service import ServiceContext

from . import erasure, handover, service, stand_ins

GROUP = "plans"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """A plan per opened case of this node's municipalities; the node attaches the database."""
    ours = for_tenants(ctx.settings.tenants)

    @ours
    def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
        service.open_plan(session, case_id=p.case_id, tenant=env.tenant, manager=p.manager)

    @ours
    @batched
    def on_consultations_recorded(session: Session, run: list[tuple[Envelope, ConsultationRecorded]]) -> None:
        # No plan yet: raise so the bus retries; a lazy plan would lack CaseOpened's manager.
        service.record_contacts(session, [(p.case_id, env.tenant, p.held_on) for env, p in run])

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

    @ours
    def on_handover_started(session: Session, env: Envelope, p: HandoverStarted) -> None:
        handover.send(session, env, p, ctx.settings)

    @ours
    def on_handover_answered(session: Session, env: Envelope, p: HandoverAnswered) -> None:
        handover.answered(session, env, p, ctx.settings)

    def on_plan_handed_over(session: Session, env: Envelope, p: PlanHandedOver) -> None:
        handover.receive(session, env, p, ctx.settings)

    return [Subscription(
        STREAMS["cases"], GROUP,
        {CaseOpened.event_type: on_case_opened,
         ConsultationRecorded.event_type: on_consultations_recorded,
         CaseClosed.event_type: on_case_closed,
         CaseReassigned.event_type: on_case_reassigned,
         CaseErased.event_type: on_case_erased,
         BreakGlassOpened.event_type: on_break_glass_opened,
         HandoverStarted.event_type: on_handover_started,
         HandoverAnswered.event_type: on_handover_answered},
        description="a plan per opened case: its last contact, its manager, its closure, its erasure, the "
                    "stand-ins let in by break-glass, and its part of hand-overs between municipalities"),
        Subscription(STREAMS["federation"], GROUP, {PlanHandedOver.event_type: on_plan_handed_over},
                     description="plans handed over to this node by another municipality's node")]
