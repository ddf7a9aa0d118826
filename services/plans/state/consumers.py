"""Subscriptions of the plans service at state level: goal, referral and agreement events become the statewide
tables; the cases' openings, consultations and closures tell which cases are open and how long they took."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from shared import clock
from shared.bus import Subscription, batched
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from shared.events.codes import GoalStatus
from shared.events.plans import PlanAgreed, PlanGoalAdded, PlanGoalStatusChanged, PlanReferralChanged
from shared.service import ServiceContext

from . import agreements, service

GROUP = "plans"


def day_of(env: Envelope) -> date:
    """The day the event happened on its node (a goal's status changes on a calendar day in Baden-Württemberg)."""
    return clock.day_of(env.occurred_at)


def on_goal_added(session: Session, env: Envelope, p: PlanGoalAdded) -> None:
    service.record_goal(session, node=env.node, tenant=env.tenant, goal_pseudonym=p.goal_id,
                        case_pseudonym=p.case_id, area=p.area, status=GoalStatus.open,
                        plan_version=p.plan_version, changed_on=day_of(env))


def on_goal_status_changed(session: Session, env: Envelope, p: PlanGoalStatusChanged) -> None:
    service.record_goal(session, node=env.node, tenant=env.tenant, goal_pseudonym=p.goal_id,
                        case_pseudonym=p.case_id, area=p.area, status=p.status,
                        plan_version=p.plan_version, changed_on=day_of(env))


def on_referral_changed(session: Session, env: Envelope, p: PlanReferralChanged) -> None:
    service.record_referral(session, node=env.node, tenant=env.tenant, step_pseudonym=p.step_id,
                            case_pseudonym=p.case_id, area=p.area, partner_type=p.partner_type,
                            status=p.status, plan_version=p.plan_version)


def on_plan_agreed(session: Session, env: Envelope, p: PlanAgreed) -> None:
    agreements.note_plan_agreed(session, node=env.node, tenant=env.tenant, case_pseudonym=p.case_id,
                                agreed_on=p.agreed_on)


def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
    agreements.note_case_opened(session, node=env.node, tenant=env.tenant, case_pseudonym=p.case_id,
                                opened_on=p.opened_on)


@batched
def on_consultations_recorded(session: Session, run: list[tuple[Envelope, ConsultationRecorded]]) -> None:
    agreements.note_consultations(session, [(env.node, env.tenant, p.case_id, p.held_on) for env, p in run])


def on_case_closed(session: Session, env: Envelope, p: CaseClosed) -> None:
    agreements.note_case_closed(session, node=env.node, tenant=env.tenant, case_pseudonym=p.case_id,
                                closed_on=p.closed_on, reason=p.reason)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """Every node's plans and cases, pseudonymous as the federation delivers them; the node attaches the database."""
    return [
        Subscription(
            STREAMS["plans"], GROUP,
            {PlanGoalAdded.event_type: on_goal_added,
             PlanGoalStatusChanged.event_type: on_goal_status_changed,
             PlanReferralChanged.event_type: on_referral_changed,
             PlanAgreed.event_type: on_plan_agreed},
            description="the statewide goal and referral tables for their statistics, and which plans are agreed"),
        Subscription(
            STREAMS["cases"], GROUP,
            {CaseOpened.event_type: on_case_opened,
             ConsultationRecorded.event_type: on_consultations_recorded,
             CaseClosed.event_type: on_case_closed},
            description="which cases are open, for the share of them with an agreed plan, and the months from the "
                        "first consultation to independence"),
    ]
