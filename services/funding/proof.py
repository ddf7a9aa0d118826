"""The proof of use (Verwendungsnachweis): per position and funding year, the grant against what was paid out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Numeric
from sqlmodel import Field, Session, SQLModel, select

from shared.errors import InvalidInput
from shared.events import utcnow
from shared.privacy import ID, TIMESTAMP, DataClass, Personal, Retention

from . import years
from .models import FundingPosition


class FundingPayout(SQLModel, table=True):
    """What the municipality paid out for a position in a funding year, as it entered it."""

    __tablename__ = "funding_payout"
    __not_personal__ = {"position_id": ID, "entered_at": TIMESTAMP}
    __personal__ = {"entered_by": Personal(DataClass.staff, "who entered the amount paid out", Retention.funding)}

    position_id: str = Field(primary_key=True, max_length=26, foreign_key="funding_position.id")
    year: int = Field(primary_key=True)
    paid_eur: Decimal = Field(sa_type=Numeric(14, 2))
    entered_by: str = Field(max_length=255)
    entered_at: datetime = Field(default_factory=utcnow)


TABLES = [FundingPayout.__table__]  # type: ignore[attr-defined]


class PayoutCreate(BaseModel):
    """Body of PUT /positions/{id}/payouts/{year}: the amount paid out in euros (cents at most)."""

    model_config = ConfigDict(extra="forbid")

    paid_eur: Decimal = pydantic.Field(ge=0, le=10_000_000, max_digits=12, decimal_places=2, allow_inf_nan=False)


class ProofRow(BaseModel):
    """One funding year of a position: granted (null while the year's rates are unknown), paid out, the rest."""

    year: int
    months: int
    granted_eur: float | None
    paid_eur: float | None
    unspent_eur: float | None  # granted minus paid out; negative: more paid out than granted


def enter_payout(session: Session, *, position: FundingPosition, year: int, paid_eur: Decimal, actor: str) -> None:
    """Enter (or correct) the amount paid out in a year the position is funded in."""
    funded = {g.year for g in years.grants_of(session, position=position)}
    if year not in funded:
        raise InvalidInput("year", "the position is not funded in this year")
    row = session.get(FundingPayout, (position.id, year), with_for_update=True) or FundingPayout(
        position_id=position.id, year=year, paid_eur=paid_eur, entered_by=actor[:255])
    row.paid_eur, row.entered_by, row.entered_at = paid_eur, actor[:255], utcnow()
    session.add(row)


def proof_of_use(session: Session, *, position: FundingPosition) -> list[ProofRow]:
    """Every funding year of the position: the grant (as GET /grants), what was paid out, and the difference."""
    paid = {p.year: p.paid_eur for p in session.exec(
        select(FundingPayout).where(FundingPayout.position_id == position.id)).all()}
    rows = []
    for g in years.grants_of(session, position=position):
        out = paid.get(g.year)
        rest = None if g.amount_eur is None or out is None else g.amount_eur - out
        rows.append(ProofRow(year=g.year, months=g.months,
                             granted_eur=None if g.amount_eur is None else float(g.amount_eur),
                             paid_eur=None if out is None else float(out),
                             unspent_eur=None if rest is None else float(rest)))
    return rows
