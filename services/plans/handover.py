"""The plan's part of a hand-over between municipalities (services/cases/handover.py has the case's part).

Sending node: on HandoverStarted the plan (goals, steps, agreed versions, review date) is sealed for the
receiving node and sent as PlanHandedOver; the case's erasure after the receipt removes it here as usual.
Receiving node: the parcel is kept as it came (sealed for this node's key, unopened) until the case's lead
answers; on an acceptance (HandoverAnswered with the new case's id and the sender's signing key, local only)
it is opened, its signature checked, and it becomes the new case's plan; on a decline it is deleted.
Either may arrive first: the plan is filled when both are here.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import pydantic
from sqlalchemy import String, Text
from sqlmodel import Field, Session, SQLModel, col, select

from shared.bus.outbox import emit
from shared.events import STREAMS, Envelope, utcnow
from shared.events.codes import GoalStatus, Topic
from shared.events.handover import HandoverAnswered, HandoverStarted, PlanHandedOver
from shared.events.plans import PartnerType, StepActor, StepStatus
from shared.federation.boxes import ParcelRefused, label, node_box_key, open_parcel, seal
from shared.federation.crypto import node_signing_key
from shared.ids import new_id
from shared.privacy import CODE, ID, NODE_ID, TIMESTAMP
from shared.settings import Settings

from .models import Goal, Plan, PlanStatus, PlanVersion, Step
from .service import PlanNotYetKnown, find_plan, goals_of

log = logging.getLogger(__name__)
PART = "plan"


class IncomingPlan(SQLModel, table=True):
    """A plan handed over to this node: the parcel as it came (sealed for this node) until it is applied."""

    __tablename__ = "plans_handover"
    __not_personal__ = {"handover_id": ID, "from_node": NODE_ID, "case_id": ID, "status": CODE,
                        "sealed": "a parcel sealed for this node's X25519 key: unreadable without it, deleted once "
                                  "applied or declined",
                        "sender_sign_key": "a node's public Ed25519 key", "received_at": TIMESTAMP,
                        "applied_at": TIMESTAMP}

    handover_id: str = Field(primary_key=True, max_length=26)
    from_node: str | None = Field(default=None, max_length=63)
    sealed: str | None = Field(default=None, sa_type=Text)
    # from the lead's acceptance (HandoverAnswered, local only): the case opened here, the sender's key
    case_id: str | None = Field(default=None, max_length=26)
    sender_sign_key: str | None = Field(default=None, max_length=100)
    status: str = Field(default="waiting", sa_type=String(10))  # waiting, applied, declined, refused
    received_at: datetime | None = None
    applied_at: datetime | None = None


TABLES = [IncomingPlan.__table__]  # type: ignore[attr-defined]


# -- sending ----------------------------------------------------------------------------------
def package_of(session: Session, plan: Plan | None) -> dict[str, Any]:
    """The plan as the receiving node rebuilds it: goals with their steps, agreed versions, the review date."""
    if plan is None:
        return {"plan": None}
    goals = goals_of(session, plan_id=plan.id)
    steps: dict[str, list[Step]] = {}
    if goals:
        for step in session.exec(select(Step).where(col(Step.goal_id).in_([g.id for g in goals]))
                                 .order_by(col(Step.created_at), col(Step.id))).all():
            steps.setdefault(step.goal_id, []).append(step)
    versions = session.exec(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                            .order_by(col(PlanVersion.number))).all()
    return pydantic.TypeAdapter(dict[str, Any]).dump_python({"plan": {
        "version": plan.version, "agreement_version": plan.agreement_version, "agreed_version": plan.agreed_version,
        "review_on": plan.review_on, "last_contact_on": plan.last_contact_on, "status": plan.status,
        "goals": [{"area": g.area, "title": g.title, "target_date": g.target_date, "status": g.status,
                   "steps": [{"what": s.what, "who": s.who, "partner_type": s.partner_type, "due_on": s.due_on,
                              "status": s.status} for s in steps.get(g.id, [])]} for g in goals],
        "versions": [{"number": v.number, "agreed_on": v.agreed_on, "language": v.language,
                      "signed_on_paper": v.signed_on_paper, "snapshot": v.snapshot} for v in versions],
    }}, mode="json")


def send(session: Session, env: Envelope, started: HandoverStarted, settings: Settings) -> None:
    """Seal the case's plan for the receiving node (PlanHandedOver), in the same order as the case's parcel."""
    plan = find_plan(session, case_id=started.case_id)
    parcel = seal(node_signing_key(settings.data_dir), started.box_key,
                  label(started.handover_id, PART, settings.node_id, started.to_node), package_of(session, plan))
    emit(session, PlanHandedOver(handover_id=started.handover_id, from_tenant=started.from_tenant,
                                 to_node=started.to_node, to_tenant=started.to_tenant, sealed=parcel),
         stream=STREAMS["plans"], tenant=env.tenant, node=settings.node_id, aggregate_id=started.handover_id)


# -- receiving --------------------------------------------------------------------------------
def _row(session: Session, handover_id: str) -> IncomingPlan:
    row = session.get(IncomingPlan, handover_id, with_for_update=True)
    if row is None:
        row = IncomingPlan(handover_id=handover_id)
        session.add(row)
    return row


def receive(session: Session, env: Envelope, parcel: PlanHandedOver, settings: Settings) -> None:
    """Keep a plan sealed for this node; a second one for the same hand-over is a replay and is dropped."""
    if parcel.to_node != settings.node_id or parcel.to_tenant not in settings.tenants:
        log.warning("ignoring the plan of hand-over %s addressed to %s/%s", parcel.handover_id, parcel.to_node,
                    parcel.to_tenant)
        return
    row = _row(session, parcel.handover_id)
    if row.sealed is not None or row.status != "waiting":
        log.warning("refused the plan of hand-over %s from %s: it arrived before (a replay)", parcel.handover_id,
                    env.node)
        return
    row.sealed, row.from_node, row.received_at = parcel.sealed, env.node, utcnow()
    _apply_if_ready(session, row, settings)


def answered(session: Session, env: Envelope, answer: HandoverAnswered, settings: Settings) -> None:
    """This node's lead answered: an accepted plan fills the new case's plan; a declined one is deleted."""
    row = _row(session, answer.handover_id)
    if row.status != "waiting":
        return
    if not answer.accepted:
        row.status, row.sealed = "declined", None
        return
    row.case_id, row.sender_sign_key = answer.case_id, answer.sender_sign_key
    if row.from_node is None:
        row.from_node = answer.to_node  # the answer goes back to the node that sent the case
    _apply_if_ready(session, row, settings)


def _apply_if_ready(session: Session, row: IncomingPlan, settings: Settings) -> None:
    if row.sealed is None or row.case_id is None:
        return  # the other half is still on its way
    if not row.sender_sign_key or not row.from_node:
        _refuse(row, "the sender's key is unknown")
        return
    try:
        package = open_parcel(node_box_key(settings.data_dir), row.sender_sign_key,
                              label(row.handover_id, PART, row.from_node, settings.node_id), row.sealed)
    except ParcelRefused as exc:
        _refuse(row, str(exc))
        return
    plan = find_plan(session, case_id=row.case_id, for_update=True)
    if plan is None:  # CaseOpened comes before the answer on the same stream: retried until it is there
        raise PlanNotYetKnown(f"no plan for the handed-over case {row.case_id} yet")
    _rebuild(session, plan, package.get("plan"))
    row.status, row.sealed, row.applied_at = "applied", None, utcnow()
    session.add(row)


def _refuse(row: IncomingPlan, why: str) -> None:
    log.warning("refused the plan of hand-over %s: %s", row.handover_id, why)
    row.status, row.sealed = "refused", None


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _rebuild(session: Session, plan: Plan, handed: dict[str, Any] | None) -> None:
    """The handed-over goals, steps and agreed versions become this plan's (it had none yet)."""
    if not handed:
        return
    for g in handed.get("goals", []):
        goal = Goal(id=new_id(), plan_id=plan.id, area=Topic(g["area"]), title=g["title"],
                    target_date=_day(g["target_date"]), status=GoalStatus(g["status"]), created_by="handover")
        session.add(goal)
        for s in g.get("steps", []):
            session.add(Step(id=new_id(), goal_id=goal.id, what=s["what"], who=StepActor(s["who"]),
                             partner_type=PartnerType(s["partner_type"]) if s["partner_type"] else None,
                             due_on=_day(s["due_on"]), status=StepStatus(s["status"]), created_by="handover"))
    for v in handed.get("versions", []):
        session.add(PlanVersion(plan_id=plan.id, number=int(v["number"]), agreed_on=date.fromisoformat(v["agreed_on"]),
                                language=v["language"], signed_on_paper=bool(v["signed_on_paper"]),
                                recorded_by="handover", snapshot=v["snapshot"]))
    plan.version = max(plan.version, int(handed.get("version") or 1))
    plan.agreement_version = int(handed.get("agreement_version") or 1)
    plan.agreed_version = handed.get("agreed_version")
    plan.review_on, plan.last_contact_on = _day(handed.get("review_on")), _day(handed.get("last_contact_on"))
    if handed.get("goals") and plan.status == PlanStatus.draft:
        plan.status = PlanStatus.active
    plan.updated_at = utcnow()
    session.add(plan)
