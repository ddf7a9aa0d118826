"""The plan as an agreement: versions the client agreed to, kept as snapshots; the review date and reviews."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from shared.errors import Conflict, InvalidInput, NotFound
from shared.events.plans import PlanAgreed, PlanReviewScheduled

from .models import AuditAction, GoalPublic, Plan, PlanVersion
from .schemas import REVIEW_MONTHS, AgreementPublic, VersionPublic, VersionSummary
from .service import audit, emit_plan_event, goals_of, writable
from .steps import steps_of


def months_later(day: date, months: int) -> date:
    """The same day `months` later; the 31st becomes the month's last day where it has fewer."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def current_goals(session: Session, *, plan: Plan) -> list[GoalPublic]:
    """The plan's goals with their steps, as they stand."""
    goals = goals_of(session, plan_id=plan.id)
    steps = steps_of(session, goal_ids=[g.id for g in goals])
    return [GoalPublic.with_steps(g, steps[g.id]) for g in goals]


def _schedule_review(session: Session, plan: Plan, review_on: date, node: str) -> None:
    plan.review_on = review_on
    emit_plan_event(session, plan, PlanReviewScheduled(
        plan_id=plan.id, case_id=plan.case_id, manager=plan.manager, review_on=review_on,
        plan_version=plan.version), node)


def agree(
    session: Session, *, plan: Plan, agreed_on: date, language: str, signed_on_paper: bool,
    review_on: date | None, actor: str, node: str,
) -> PlanVersion:
    """Record the client's agreement to the current version: a snapshot, and the next review date."""
    writable(plan)
    audit(session, actor=actor, action=AuditAction.agree, plan=plan, detail=str(plan.agreement_version))
    if plan.agreed_version == plan.agreement_version:
        raise Conflict(f"version {plan.agreement_version} is already agreed; change the plan to start a new one")
    goals = current_goals(session, plan=plan)
    if not goals:
        raise Conflict("the plan has no goals yet: agree goals with the client first")
    if agreed_on < plan.created_at.date():
        raise InvalidInput("agreed_on", f"may not be before the plan was made ({plan.created_at.date()})")
    review_on = review_on or months_later(agreed_on, REVIEW_MONTHS)
    if review_on <= agreed_on:
        raise InvalidInput("review_on", "must be after agreed_on")
    version = PlanVersion(plan_id=plan.id, number=plan.agreement_version, agreed_on=agreed_on, language=language,
                          signed_on_paper=signed_on_paper, recorded_by=actor[:255],
                          snapshot={"goals": [g.model_dump(mode="json") for g in goals]})
    plan.agreed_version = plan.agreement_version
    plan.version += 1  # the agreement is a change of the plan, though not of its content
    session.add_all([version, plan])
    emit_plan_event(session, plan, PlanAgreed(plan_id=plan.id, case_id=plan.case_id, manager=plan.manager,
                                              plan_version=version.number, agreed_on=agreed_on), node)
    _schedule_review(session, plan, review_on, node)
    return version


def record_review(
    session: Session, *, plan: Plan, reviewed_on: date, next_review_on: date | None, actor: str, node: str,
) -> Plan:
    """The plan was reviewed with the client: the next review is due then (six months on by default)."""
    writable(plan)
    audit(session, actor=actor, action=AuditAction.record_review, plan=plan, detail=reviewed_on.isoformat())
    if plan.agreed_version is None:
        raise Conflict("the plan has not been agreed yet: a review follows an agreement")
    next_on = next_review_on or months_later(reviewed_on, REVIEW_MONTHS)
    if next_on <= reviewed_on:
        raise InvalidInput("next_review_on", "must be after reviewed_on")
    plan.version += 1
    session.add(plan)
    _schedule_review(session, plan, next_on, node)
    return plan


def summaries(session: Session, plan: Plan) -> list[VersionSummary]:
    agreed = session.exec(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                          .order_by(col(PlanVersion.number))).all()
    shown = [VersionSummary(number=v.number, status="agreed", agreement=AgreementPublic.model_validate(v))
             for v in agreed]
    if plan.agreed_version != plan.agreement_version:
        shown.append(VersionSummary(number=plan.agreement_version, status="draft", agreement=None))
    return shown


def versions(session: Session, *, plan: Plan, actor: str) -> list[VersionSummary]:
    """The plan's history: every agreed version, then the draft being worked on (if any)."""
    audit(session, actor=actor, action=AuditAction.read_versions, plan=plan)
    return summaries(session, plan)


def version(session: Session, *, plan: Plan, number: int, actor: str) -> VersionPublic:
    """One version with its goals and steps: as agreed, or (the draft) as they stand."""
    audit(session, actor=actor, action=AuditAction.read_version, plan=plan, detail=str(number))
    return version_of(session, plan=plan, number=number)


def version_of(session: Session, *, plan: Plan, number: int) -> VersionPublic:
    """One version, for a caller that has audited its reading already."""
    summary = next((s for s in summaries(session, plan) if s.number == number), None)
    if summary is None:
        raise NotFound("no such version of this plan")
    if summary.status == "draft":
        return VersionPublic.of(plan.id, summary, current_goals(session, plan=plan))
    stored = session.get(PlanVersion, (plan.id, number))
    assert stored is not None
    goals: list[dict[str, Any]] = stored.snapshot["goals"]
    return VersionPublic.of(plan.id, summary, goals)


def agreed_in(session: Session, *, tenant: str, year: int) -> int:
    """How many of the municipality's plans were agreed in the year (each plan once; the annual figures)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return int(session.exec(select(func.count(func.distinct(PlanVersion.plan_id))).join(
        Plan, col(Plan.id) == col(PlanVersion.plan_id)).where(
        Plan.tenant == tenant, col(PlanVersion.agreed_on) >= first, col(PlanVersion.agreed_on) <= last)).one())
