"""HTTP routes of the plans service at municipal level: a case's plan, its goals and steps, the agreement,
reviews and versions, the audit trail, the lead's figures."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from shared.disclosure import small
from shared.http import sees_its_record

from . import access_export, agreements, document, service, steps
from .access_export import PlanAccessExport
from .deps import (
    AuditedPlan,
    Auditor,
    Caller,
    ContextDep,
    CurrentGoal,
    CurrentPlan,
    CurrentStep,
    FiguresTenant,
    PlanOfCase,
    PlanToChange,
    PrintLanguage,
    SessionDep,
    VersionNumber,
)
from .models import Goal, GoalChange, GoalCreate, GoalWritten, Plan, PlanPublic, StepPublic
from .schemas import (
    AgreedPlans,
    AgreementCreate,
    AgreementPublic,
    AuditEntryPublic,
    AuditPage,
    ReviewCreate,
    ReviewPublic,
    StepChange,
    StepCreate,
    VersionPublic,
    VersionSummary,
)
from .service import KEEP
from .statistics import GoalStatistics, ReferralStatistics

router = APIRouter(prefix="/api/plans/v1", tags=["plans"])
# Every read and write of a plan, goal or step leaves a row in the plan's audit trail (service.py).


def shown(session: Session, plan: Plan, goals: list[Goal]) -> PlanPublic:
    """The plan as the API answers it: its goals with their steps."""
    return PlanPublic.of(plan, goals, steps.steps_of(session, goal_ids=[g.id for g in goals]))


@router.get("/plans", response_model=PlanPublic)
def find_plan(plan: PlanOfCase, principal: Caller, session: SessionDep) -> PlanPublic:
    """The plan of a case (`case_id`)."""
    return shown(session, plan, service.read_plan(session, plan=plan, actor=principal.sub))


@router.get("/plans/{plan_id}", response_model=PlanPublic)
def get_plan(plan: CurrentPlan, principal: Caller, session: SessionDep) -> PlanPublic:
    """A plan with its goals and their steps."""
    return shown(session, plan, service.read_plan(session, plan=plan, actor=principal.sub))


@router.post("/plans/{plan_id}/goals", status_code=201, response_model=GoalWritten)
def add_goal(body: GoalCreate, plan: PlanToChange, principal: Caller, session: SessionDep,
             ctx: ContextDep) -> GoalWritten:
    """Add an open goal; the plan's first goal makes it active."""
    goal = service.add_goal(session, plan=plan, area=body.area, title=body.title,
                            target_date=body.target_date, actor=principal.sub, node=ctx.node)
    return GoalWritten.of(goal, plan)


@router.patch("/plans/{plan_id}/goals/{goal_id}", response_model=GoalWritten)
def change_goal(body: GoalChange, plan: PlanToChange, goal: CurrentGoal, principal: Caller,
                session: SessionDep, ctx: ContextDep) -> GoalWritten:
    """Change any of a goal's title, target date and status; the same values again change nothing."""
    # An absent target date stays; a null one clears it.
    target = body.target_date if "target_date" in body.model_fields_set else service.KEEP
    service.change_goal(session, plan=plan, goal=goal, node=ctx.node, actor=principal.sub, title=body.title,
                        target_date=target, status=body.status)
    return GoalWritten.of(goal, plan, steps.steps_of(session, goal_ids=[goal.id])[goal.id])


@router.post("/plans/{plan_id}/goals/{goal_id}/steps", status_code=201, response_model=StepPublic)
def add_step(body: StepCreate, plan: PlanToChange, goal: CurrentGoal, principal: Caller, session: SessionDep,
             ctx: ContextDep) -> StepPublic:
    """Add a step to a goal: what, who (client, manager or a partner service by its type), by when."""
    step = steps.add_step(session, plan=plan, goal=goal, what=body.what, who=body.who,
                          partner_type=body.partner_type, due_on=body.due_on, status=body.status,
                          actor=principal.sub, node=ctx.node)
    return StepPublic.model_validate(step)


@router.patch("/plans/{plan_id}/goals/{goal_id}/steps/{step_id}", response_model=StepPublic)
def change_step(body: StepChange, plan: PlanToChange, goal: CurrentGoal, step: CurrentStep, principal: Caller,
                session: SessionDep, ctx: ContextDep) -> StepPublic:
    """Change any of a step's text, date (null clears it) and status; the same values again change nothing."""
    due_on = body.due_on if "due_on" in body.model_fields_set else KEEP
    steps.change_step(session, plan=plan, goal=goal, step=step, actor=principal.sub, node=ctx.node,
                      what=body.what, due_on=due_on, status=body.status)
    return StepPublic.model_validate(step)


@router.post("/plans/{plan_id}/agreements", status_code=201, response_model=AgreementPublic)
def agree(body: AgreementCreate, plan: PlanToChange, principal: Caller, session: SessionDep,
          ctx: ContextDep) -> AgreementPublic:
    """The client agreed to the current version (date, language explained in, signed on paper); later changes
    open a new draft. The next review is due six months later unless `review_on` says otherwise."""
    version = agreements.agree(session, plan=plan, agreed_on=body.agreed_on, language=body.language,
                               signed_on_paper=body.signed_on_paper, review_on=body.review_on,
                               actor=principal.sub, node=ctx.node)
    return AgreementPublic.model_validate(version)


@router.post("/plans/{plan_id}/reviews", response_model=ReviewPublic)
def record_review(body: ReviewCreate, plan: PlanToChange, principal: Caller, session: SessionDep,
                  ctx: ContextDep) -> ReviewPublic:
    """The plan was reviewed with the client; the next review is due six months later unless given."""
    agreements.record_review(session, plan=plan, reviewed_on=body.reviewed_on,
                             next_review_on=body.next_review_on, actor=principal.sub, node=ctx.node)
    return ReviewPublic(plan_id=plan.id, agreement_version=plan.agreement_version,
                        agreed_version=plan.agreed_version, review_on=plan.review_on)


@router.get("/plans/{plan_id}/versions", response_model=list[VersionSummary])
def versions(plan: CurrentPlan, principal: Caller, session: SessionDep) -> list[VersionSummary]:
    """The plan's history: each agreed version with how it was agreed, then the draft (if any)."""
    return agreements.versions(session, plan=plan, actor=principal.sub)


@router.get("/plans/{plan_id}/versions/{number}", response_model=VersionPublic)
def version(number: VersionNumber, plan: CurrentPlan, principal: Caller, session: SessionDep) -> VersionPublic:
    """One version with its goals and steps: as agreed, or as they stand for the draft."""
    return agreements.version(session, plan=plan, number=number, actor=principal.sub)


@router.get("/plans/{plan_id}/document.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the printable plan"}})
def print_plan(plan: CurrentPlan, principal: Caller, session: SessionDep, lang: PrintLanguage = "de",
               version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
    """The plan to hand to the client: the fixed texts in German and `lang` side by side (ar and fa right to
    left), what the manager wrote as written; the last agreed version unless `version`, else the draft."""
    pdf = document.print_plan(session, plan=plan, number=version, lang=lang, actor=principal.sub)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="integrationsplan-{plan.id}-{lang}.pdf"'})


@router.get("/export", response_model=PlanAccessExport,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "everything held about the client in the plan: JSON, or with "
                                            "format=pdf a German PDF"}})
@sees_its_record()
def export_plan(plan: AuditedPlan, principal: Auditor, session: SessionDep, ctx: ContextDep,
                format: Annotated[Literal["json", "pdf"], Query()] = "json") -> PlanAccessExport | Response:
    """An access request (Art. 15 GDPR), for the lead: the plan of a case (`case_id`) with its goals, steps,
    agreed versions and who accessed it when (this export included); the case file is the cases service's part."""
    answer = access_export.export(session, plan=plan, actor=principal.sub, node=ctx.node)
    if format == "pdf":
        return Response(access_export.printed(answer), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="auskunft-plan-{plan.case_id}.pdf"'})
    return answer


@router.get("/audit", response_model=AuditPage)
@sees_its_record()
def read_audit(
    plan: AuditedPlan, principal: Auditor, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> AuditPage:
    """A page of the audit trail of a case's plan (`case_id`), oldest first (this reading included); for the lead."""
    rows, next_cursor = service.read_audit(session, plan=plan, actor=principal.sub, after=cursor, limit=limit)
    return AuditPage(items=[AuditEntryPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/statistics/goals", response_model=GoalStatistics)
def goal_statistics(tenant: FiguresTenant, session: SessionDep) -> GoalStatistics:
    """A lead's municipality (`tenant`; optional for a lead of one): goals by area and status, as the state counts."""
    return service.goal_statistics(session, tenant=tenant)


@router.get("/statistics/agreements", response_model=AgreedPlans)
def agreed_plans(tenant: FiguresTenant, session: SessionDep,
                 year: Annotated[int, Query(ge=2000, le=2100)]) -> AgreedPlans:
    """A lead's municipality (`tenant`; optional for a lead of one): the plans agreed in `year` (the annual
    figures), withheld when 1 to 4."""
    count = agreements.agreed_in(session, tenant=tenant, year=year)
    return AgreedPlans(tenant=tenant, year=year, plans_agreed=None if small(count) else count,
                       suppressed=small(count))


@router.get("/statistics/referrals", response_model=ReferralStatistics)
def referral_statistics(tenant: FiguresTenant, session: SessionDep) -> ReferralStatistics:
    """A lead's municipality (`tenant`; optional for a lead of one): referrals by partner type and status,
    as the state counts them."""
    return steps.referral_statistics(session, tenant=tenant)
