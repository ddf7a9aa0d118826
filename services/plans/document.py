"""The printable plan: German and the client's language side by side for the fixed texts, as written otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session

from shared.documents import render_pdf, template_environment

from . import agreements
from .models import AuditAction, Plan
from .schemas import VersionPublic
from .service import audit
from .texts import RIGHT_TO_LEFT, language_name, text

TEMPLATES = Path(__file__).parent / "templates"


def german(day: date | str | None) -> str:
    """31.12.2026 in both columns."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return "" if day is None else day.strftime("%d.%m.%Y")


def printed(version: VersionPublic, *, lang: str, review_on: date | None) -> bytes:
    """The PDF of a version in German and `lang` (one of texts.LANGUAGES)."""
    agreement = version.agreement

    def sentence(in_lang: str) -> str:
        assert agreement is not None
        return text("agreement_sentence", in_lang).format(
            day=german(agreement.agreed_on), language=language_name(agreement.language, in_lang))

    html = template_environment(TEMPLATES).get_template("plan.html").render(
        version=version, agreement=agreement, lang=lang, dir="rtl" if lang in RIGHT_TO_LEFT else "ltr",
        t=text, german=german, sentence=sentence, review_on=review_on if agreement else None)
    return render_pdf(html, base_url=TEMPLATES)


def print_plan(session: Session, *, plan: Plan, number: int | None, lang: str, actor: str) -> bytes:
    """A version of the plan as PDF (the last agreed one unless `number`, else the draft); audited."""
    number = number or plan.agreed_version or plan.agreement_version
    audit(session, actor=actor, action=AuditAction.print_document, plan=plan, detail=f"{number}:{lang}")
    shown = agreements.version_of(session, plan=plan, number=number)
    return printed(shown, lang=lang, review_on=plan.review_on if number == plan.agreed_version else None)
