"""The decision letter (Bescheid) the municipal node prints when the state's decision arrives."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, col, select

from shared.documents import render_pdf, template_environment
from shared.errors import NotFound
from shared.events.codes import ApplicationStatus
from shared.events.funding import ExtensionKind

from . import years
from .models import FundingDecisionLetter, FundingExtensionApplication, FundingPosition
from .terms import months_asked

TEMPLATES = Path(__file__).parent / "templates"
QUALIFICATION = {"vocational": "Fachschul- oder Berufsausbildungsniveau", "academic": "Hochschulniveau"}
KIND = {"extension_24_months": "Verlängerung um 24 Monate",
        "interruption_12_months": "Verlängerung um 12 Monate nach Unterbrechung der Entgeltzahlung",
        "new_position": "Förderung einer neuen Stelle"}


def euro(amount: Decimal) -> str:
    """30000.5 -> '30.000,50 €' (German grouping and decimal comma)."""
    text = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} €"


def german(day: date | None) -> str:
    return "" if day is None else day.strftime("%d.%m.%Y")


def print_letter(
    session: Session, *, application: FundingExtensionApplication, position: FundingPosition,
) -> FundingDecisionLetter:
    """Render the letter of a decided application, with the grants at this node's rates, and keep it."""
    grants = years.grants_of(session, position=position)  # none for a refused new position
    html = template_environment(TEMPLATES).get_template("decision_letter.html").render(
        application=application, position=position, approved=application.status == ApplicationStatus.approved,
        kind=KIND[application.kind], qualification=QUALIFICATION[position.qualification],
        new_position=application.kind == ExtensionKind.new_position,
        asked=months_asked(kind=ExtensionKind(application.kind), current_ends_on=application.current_ends_on,
                           requested_ends_on=application.requested_ends_on),
        grants=[(g.year, g.months, g.rate_eur, None if g.amount_eur is None else euro(g.amount_eur))
                for g in grants],
        total=euro(sum((g.amount_eur for g in grants if g.amount_eur is not None), Decimal(0))),
        euro=euro, german=german)
    letter = FundingDecisionLetter(application_id=application.id, pdf=render_pdf(html, base_url=TEMPLATES))
    session.merge(letter)
    return letter


def get_letter(session: Session, *, application_id: str) -> FundingDecisionLetter:
    """The letter of a decided application."""
    letter = session.get(FundingDecisionLetter, application_id)
    if letter is None:
        raise NotFound("no decision letter for this application (not decided yet)")
    return letter


def with_letters(session: Session, *, application_ids: Collection[str]) -> set[str]:
    """Which of these applications have their decision letter on this node."""
    if not application_ids:
        return set()
    query = select(FundingDecisionLetter.application_id).where(
        col(FundingDecisionLetter.application_id).in_(list(application_ids)))
    return set(session.exec(query).all())
