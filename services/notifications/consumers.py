"""A municipal node's subscriptions: extension decisions, opened cases and goal dates become service calls."""

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
    CounsellingPeriodSet,
)
from shared.events.funding import ExtensionDecided
from shared.events.handover import CaseHandedOver, HandoverAnswered
from shared.events.plans import PlanGoalAdded, PlanGoalRescheduled, PlanGoalStatusChanged, PlanReviewScheduled
from shared.service import ServiceContext

from . import erasure, reminders, service
from .mailer import MailConfig
from .models import Kind

GROUP = "notifications"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The municipal rules; the node attaches the database."""
    mail, ours = MailConfig.of(ctx.settings), for_tenants(ctx.settings.tenants)

    @ours
    def on_extension_decided(session: Session, env: Envelope, p: ExtensionDecided) -> None:
        service.announce_extension_decision(
            session, tenant=env.tenant, source=env.event_id, application_id=p.application_id,
            position_id=p.position_id, approved=p.approved, decided_on=p.decided_on, mail=mail,
            application_kind=p.kind)

    @ours
    def on_case_handed_over(session: Session, env: Envelope, p: CaseHandedOver) -> None:
        service.announce_handover_received(session, tenant=p.to_tenant, handover_id=p.handover_id,
                                           from_tenant=p.from_tenant, mail=mail)

    @ours
    def on_handover_answered(session: Session, env: Envelope, p: HandoverAnswered) -> None:
        service.announce_handover_answered(session, tenant=p.to_tenant, handover_id=p.handover_id,
                                           to_tenant=p.from_tenant, accepted=p.accepted, mail=mail)

    @ours
    def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
        service.confirm_case_opened(session, tenant=env.tenant, source=env.event_id,
                                    case_id=p.case_id, manager=p.manager,
                                    opened_on=p.opened_on, mail=mail)

    @ours
    def on_goal_added(session: Session, env: Envelope, p: PlanGoalAdded) -> None:
        if p.target_date is not None:
            service.watch_goal(session, tenant=env.tenant, goal_id=p.goal_id, plan_id=p.plan_id,
                               manager=p.manager, area=p.area, due_on=p.target_date,
                               plan_version=p.plan_version, case_id=p.case_id)

    @ours
    def on_goal_rescheduled(session: Session, env: Envelope, p: PlanGoalRescheduled) -> None:
        service.reschedule_goal(session, tenant=env.tenant, goal_id=p.goal_id, plan_id=p.plan_id,
                                case_id=p.case_id, manager=p.manager, area=p.area, status=p.status,
                                due_on=p.target_date, plan_version=p.plan_version)

    @ours
    def on_review_scheduled(session: Session, env: Envelope, p: PlanReviewScheduled) -> None:
        reminders.schedule(session, kind=Kind.plan_review_due, subject=p.plan_id, tenant=env.tenant,
                           case_id=p.case_id, plan_id=p.plan_id, manager=p.manager, about_on=p.review_on,
                           newer_than=f"{p.plan_version:012d}")

    @ours
    def on_counselling_period_set(session: Session, env: Envelope, p: CounsellingPeriodSet) -> None:
        reminders.schedule(session, kind=Kind.counselling_ends, subject=p.case_id, tenant=env.tenant,
                           case_id=p.case_id, manager=p.manager, about_on=p.ends_on,
                           newer_than=f"{env.occurred_at.isoformat()}|{env.event_id}")

    @ours
    def on_case_reassigned(session: Session, env: Envelope, p: CaseReassigned) -> None:
        reminders.reassign(session, tenant=env.tenant, case_id=p.case_id, manager=p.manager)

    @ours
    def on_case_closed(session: Session, env: Envelope, p: CaseClosed) -> None:
        reminders.end_for_case(session, tenant=env.tenant, case_id=p.case_id)

    @ours
    def on_break_glass_opened(session: Session, env: Envelope, p: BreakGlassOpened) -> None:
        service.announce_break_glass(session, tenant=env.tenant, source=env.event_id, case_id=p.case_id,
                                     manager=p.manager, until=p.until, mail=mail)

    @ours
    def on_case_erased(session: Session, env: Envelope, p: CaseErased) -> None:
        erasure.erase_case(session, tenant=env.tenant, case_id=p.case_id)

    def on_goal_status_changed(session: Session, env: Envelope, p: PlanGoalStatusChanged) -> None:
        service.track_goal_status(session, tenant=env.tenant, goal_id=p.goal_id, status=p.status,
                                  plan_version=p.plan_version)

    return [
        Subscription(STREAMS["federation"], GROUP,
                     {ExtensionDecided.event_type: on_extension_decided,
                      CaseHandedOver.event_type: on_case_handed_over,
                      HandoverAnswered.event_type: on_handover_answered},
                     description="extension decisions for the municipality's lead; hand-overs from other "
                                 "municipalities, and their answers to the municipality's own"),
        Subscription(STREAMS["cases"], GROUP,
                     {CaseOpened.event_type: on_case_opened,
                      CounsellingPeriodSet.event_type: on_counselling_period_set,
                      CaseReassigned.event_type: on_case_reassigned,
                      CaseClosed.event_type: on_case_closed,
                      BreakGlassOpened.event_type: on_break_glass_opened,
                      CaseErased.event_type: on_case_erased},
                     description="confirmations of opened cases; counselling's end; reminders following a case; "
                                 "break-glass access for the lead; what is about an erased case goes"),
        Subscription(STREAMS["plans"], GROUP,
                     {PlanGoalAdded.event_type: on_goal_added,
                      PlanGoalStatusChanged.event_type: on_goal_status_changed,
                      PlanGoalRescheduled.event_type: on_goal_rescheduled,
                      PlanReviewScheduled.event_type: on_review_scheduled},
                     description="target dates of plan goals, for overdue checks; plan reviews, for reminders"),
    ]
