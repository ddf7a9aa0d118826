"""A municipal node's subscriptions: extension decisions, opened cases and goal dates become service calls."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription, for_tenants
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseOpened
from shared.events.funding import ExtensionDecided
from shared.events.plans import PlanGoalAdded, PlanGoalStatusChanged
from shared.service import ServiceContext

from . import service
from .mailer import MailConfig

GROUP = "notifications"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The municipal rules; the node attaches the database."""
    mail, ours = MailConfig.of(ctx.settings), for_tenants(ctx.settings.tenants)

    @ours
    def on_extension_decided(session: Session, env: Envelope, p: ExtensionDecided) -> None:
        service.announce_extension_decision(
            session, tenant=env.tenant, source=env.event_id, application_id=p.application_id,
            position_id=p.position_id, approved=p.approved, decided_on=p.decided_on, mail=mail)

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
                               plan_version=p.plan_version)

    def on_goal_status_changed(session: Session, env: Envelope, p: PlanGoalStatusChanged) -> None:
        service.track_goal_status(session, tenant=env.tenant, goal_id=p.goal_id, status=p.status,
                                  plan_version=p.plan_version)

    return [
        Subscription(STREAMS["federation"], GROUP,
                     {ExtensionDecided.event_type: on_extension_decided},
                     description="extension decisions for the municipality's lead"),
        Subscription(STREAMS["cases"], GROUP, {CaseOpened.event_type: on_case_opened},
                     description="confirmations of opened cases"),
        Subscription(STREAMS["plans"], GROUP,
                     {PlanGoalAdded.event_type: on_goal_added,
                      PlanGoalStatusChanged.event_type: on_goal_status_changed},
                     description="target dates of plan goals, for overdue checks"),
    ]
