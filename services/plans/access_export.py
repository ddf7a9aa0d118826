"""An access request (Art. 15 GDPR), the plans service's part: everything it holds about the client of a case.

The plan with its goals and steps, every agreed version as it was agreed, and the plan's whole audit trail
(who read or changed it, when; this export included). As JSON, and as a readable German PDF. The case file is
the cases service's part (services/cases/access_export.py); the lead's export page offers both.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from shared.documents import in_german, print_export
from shared.events import utcnow

from . import agreements
from .models import AuditAction, AuditEntry, Plan, PlanPublic
from .schemas import AuditEntryPublic, VersionPublic
from .service import audit, goals_of
from .steps import steps_of

TEMPLATES = Path(__file__).parent / "templates"


class PlanAccessExport(BaseModel):
    """Everything the plans service of this node holds about the client of one case."""

    generated_at: datetime
    generated_by: str
    node: str
    plan: PlanPublic
    versions: list[VersionPublic]  # every agreed version as agreed, then the draft (if any)
    audit: list[AuditEntryPublic]


def export(session: Session, *, plan: Plan, actor: str, node: str) -> PlanAccessExport:
    """Collect the export; recorded in the plan's audit trail first, so the export shows itself."""
    audit(session, actor=actor, action=AuditAction.export, plan=plan)
    session.flush()
    goals = goals_of(session, plan_id=plan.id)
    versions = [agreements.version_of(session, plan=plan, number=s.number)
                for s in agreements.summaries(session, plan)]
    trail = session.exec(select(AuditEntry).where(AuditEntry.case_id == plan.case_id)
                         .order_by(col(AuditEntry.id))).all()
    return PlanAccessExport(
        generated_at=utcnow(), generated_by=actor, node=node,
        plan=PlanPublic.of(plan, goals, steps_of(session, goal_ids=[g.id for g in goals])),
        versions=versions, audit=[AuditEntryPublic.model_validate(e) for e in trail])


# -- the readable PDF (German) ----------------------------------------------------------------
GERMAN: dict[str, dict[str, str]] = {
    "action": {
        "read": "Plan gelesen", "add_goal": "Ziel hinzugefügt", "change_goal": "Ziel geändert",
        "read_audit": "Protokoll gelesen", "add_step": "Schritt hinzugefügt", "change_step": "Schritt geändert",
        "agree": "Vereinbarung erfasst", "record_review": "Überprüfung erfasst",
        "read_versions": "Fassungen gelesen", "read_version": "Fassung gelesen", "print": "Plan gedruckt",
        "export": "Auskunft erstellt"},
    "area": {"language": "Sprache", "work": "Arbeit", "housing": "Wohnen", "school": "Schule",
             "education": "Ausbildung und Studium", "health": "Gesundheit", "family": "Familie und Kinder",
             "residence": "Aufenthalt", "benefits": "Leistungen", "everyday_life": "Alltag"},
    "goal_status": {"open": "offen", "in_progress": "in Arbeit", "achieved": "erreicht", "dropped": "aufgegeben"},
    "plan_status": {"draft": "Entwurf", "active": "aktiv", "closed": "abgeschlossen"},
    "who": {"client": "Klient/in", "manager": "Integrationsmanager/in", "partner": "Partnerstelle"},
    "step_status": {"open": "offen", "done": "erledigt", "referred": "vermittelt", "accepted": "angenommen",
                    "declined": "abgelehnt"},
    "version": {"agreed": "vereinbart", "draft": "Entwurf"},
}


def german(group: str, code: Any) -> str:
    """A code in German; an unknown one as it is."""
    return in_german(GERMAN, group, code)


def printed(answer: Any) -> bytes:
    """The export as a readable German PDF."""
    return print_export(TEMPLATES, answer, german)
