"""An access request (Art. 15 GDPR): everything the cases service holds about a client, with who accessed it.

One export: the case file with its household, the consultations, the information sheets and consents, the
break-glass grants, the whole audit trail (this export included) and the searches that showed the case.
As JSON, and as a readable German PDF. The plan is the plans service's part (not held here).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from shared.documents import in_german, print_export
from shared.events import utcnow

from . import break_glass, consents
from .break_glass import BreakGlassPublic
from .consents import ConsentPublic, InformationSheetPublic
from .models import (
    AuditAction,
    AuditEntry,
    AuditEntryPublic,
    Case,
    CasePublic,
    Consultation,
    ConsultationPublic,
    SearchEntry,
)
from .service import audit

TEMPLATES = Path(__file__).parent / "templates"
SEARCH_DETAIL = "search "  # how an audit row points to the search that showed the case (search.py)


class SearchPublic(BaseModel):
    """A search that showed the case: who searched, when, for what."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    term: str


class AccessExport(BaseModel):
    """Everything the cases service of this node holds about the client of one case."""

    generated_at: datetime
    generated_by: str
    node: str
    case: CasePublic
    consultations: list[ConsultationPublic]
    information_sheets: list[InformationSheetPublic]
    consents: list[ConsentPublic]
    break_glass: list[BreakGlassPublic]
    audit: list[AuditEntryPublic]
    searches: list[SearchPublic]


def export(session: Session, *, case: Case, actor: str, node: str) -> AccessExport:
    """Collect the export; recorded in the audit trail first, so the export shows itself."""
    audit(session, actor=actor, action=AuditAction.export, case=case)
    session.flush()
    consultations = session.exec(select(Consultation).where(Consultation.case_id == case.id)
                                 .order_by(col(Consultation.held_on), col(Consultation.id))).all()
    trail = session.exec(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(col(AuditEntry.id))).all()
    search_ids = sorted({int(e.detail.removeprefix(SEARCH_DETAIL)) for e in trail
                         if e.action == AuditAction.search and e.detail and e.detail.startswith(SEARCH_DETAIL)
                         and e.detail.removeprefix(SEARCH_DETAIL).isdigit()})
    searches = session.exec(select(SearchEntry).where(col(SearchEntry.id).in_(search_ids))
                            .order_by(col(SearchEntry.id))).all() if search_ids else []
    return AccessExport(
        generated_at=utcnow(), generated_by=actor, node=node, case=CasePublic.model_validate(case),
        consultations=[ConsultationPublic.model_validate(c) for c in consultations],
        information_sheets=[InformationSheetPublic.model_validate(s)
                            for s in consents.information_of(session, case_id=case.id)],
        consents=[consents.public(c) for c in consents.consents_of(session, case_id=case.id)],
        break_glass=[BreakGlassPublic.model_validate(g) for g in break_glass.grants_of(session, case_id=case.id)],
        audit=[AuditEntryPublic.model_validate(e) for e in trail],
        searches=[SearchPublic.model_validate(s) for s in searches])


# -- the readable PDF (German) ----------------------------------------------------------------
GERMAN: dict[str, dict[str, str]] = {
    "action": {
        "open": "Fall eröffnet", "read": "Fallakte gelesen", "list": "Fall in einer Liste gesehen",
        "record_consultation": "Beratung erfasst", "read_consultations": "Beratungen gelesen",
        "close": "Fall abgeschlossen", "read_audit": "Protokoll gelesen", "extend_counselling": "Beratung verlängert",
        "change": "Persönliche Daten geändert", "reassign": "Fall an andere Fachkraft übergeben",
        "search": "Fall in einer Suche gefunden", "record_information": "Merkblatt als ausgehändigt erfasst",
        "record_consent": "Einwilligung erfasst", "withdraw_consent": "Widerruf erfasst",
        "read_consents": "Einwilligungen gelesen", "break_glass": "Fall in Vertretung geöffnet",
        "export": "Auskunft erstellt", "erase": "Daten gelöscht"},
    "purpose": {"handover": "Übergabe an eine andere Kommune", "partner_sharing": "Weitergabe an eine Partnerstelle"},
    "form": {"written": "schriftlich", "oral": "mündlich"},
    "mode": {"office": "im Büro", "outreach": "aufsuchend", "phone": "telefonisch", "video": "per Video",
             "group": "in der Gruppe"},
    "topic": {"language": "Sprache", "work": "Arbeit", "housing": "Wohnen", "school": "Schule",
              "education": "Ausbildung und Studium", "health": "Gesundheit", "family": "Familie und Kinder",
              "residence": "Aufenthalt", "benefits": "Leistungen", "everyday_life": "Alltag"},
    "status": {"open": "offen", "closed": "abgeschlossen"},
    "eligibility": {"follow_up_accommodation": "Anschlussunterbringung",
                    "temporary_protection_ukraine": "Vorübergehender Schutz (Ukraine)"},
    "relation": {"partner": "Partner/in", "child": "Kind", "parent": "Elternteil", "sibling": "Geschwister",
                 "other": "andere/r Angehörige/r"},
    "close_reason": {"independent": "selbstständig", "moved_away": "weggezogen", "transferred": "übergeben",
                     "other": "anderer Grund"},
}


def german(group: str, code: Any) -> str:
    """A code in German; an unknown one as it is."""
    return in_german(GERMAN, group, code)


def printed(answer: Any) -> bytes:
    """The export as a readable German PDF."""
    return print_export(TEMPLATES, answer, german)
