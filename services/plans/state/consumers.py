"""Subscriptions of the plans service at state level: goal events become the statewide goal table."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.codes import GoalStatus
from shared.events.plans import PlanGoalAdded, PlanGoalStatusChanged, PlanReferralChanged
from shared.service import ServiceContext

from . import service

GROUP = "plans"


def on_goal_added(session: Session, env: Envelope, p: PlanGoalAdded) -> None:
    service.record_goal(session, node=env.node, tenant=env.tenant, goal_pseudonym=p.goal_id,
                        case_pseudonym=p.case_id, area=p.area, status=GoalStatus.open,
                        plan_version=p.plan_version)


def on_goal_status_changed(session: Session, env: Envelope, p: PlanGoalStatusChanged) -> None:
    service.record_goal(session, node=env.node, tenant=env.tenant, goal_pseudonym=p.goal_id,
                        case_pseudonym=p.case_id, area=p.area, status=p.status,
                        plan_version=p.plan_version)


def on_referral_changed(session: Session, env: Envelope, p: PlanReferralChanged) -> None:
    service.record_referral(session, node=env.node, tenant=env.tenant, step_pseudonym=p.step_id,
                            case_pseudonym=p.case_id, area=p.area, partner_type=p.partner_type,
                            status=p.status, plan_version=p.plan_version)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """Every node's goals, pseudonymous as the federation delivers them; the node attaches the database."""
    return [Subscription(
        STREAMS["plans"], GROUP,
        {PlanGoalAdded.event_type: on_goal_added,
         PlanGoalStatusChanged.event_type: on_goal_status_changed,
         PlanReferralChanged.event_type: on_referral_changed},
        description="the statewide goal and referral tables for their statistics")]
