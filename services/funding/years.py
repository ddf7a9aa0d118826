"""Funding years on either level: the state sets them, every node keeps the same copy; grants from them."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from sqlmodel import Session, col, select

from shared.errors import NotFound
from shared.events import utcnow
from shared.events.funding import Qualification

from .grants import YearGrant, grants
from .models import FundingYear, FundingYearBase
from .terms import FUNDED

YearTable = type[FundingYearBase]  # FundingYear on a municipal node, FundingStateYear at the state


def store_year(
    session: Session, *, year: int, budget_eur: int, rates_eur: dict[Qualification, int],
    model: YearTable = FundingYear,
) -> FundingYearBase:
    """Create or replace the funding year's budget and fixed amounts."""
    row = session.get(model, year, with_for_update=True) or model(
        year=year, budget_eur=0, rate_vocational_eur=0, rate_academic_eur=0)
    row.budget_eur = budget_eur
    row.rate_vocational_eur = rates_eur[Qualification.vocational]
    row.rate_academic_eur = rates_eur[Qualification.academic]
    row.set_at = utcnow()
    session.add(row)
    return row


def get_year(session: Session, *, year: int, model: YearTable = FundingYear) -> FundingYearBase:
    """The funding year, as the state set it."""
    row = session.get(model, year)
    if row is None:
        raise NotFound(f"funding year {year} not set")
    return row


def list_years(session: Session, *, model: YearTable = FundingYear) -> list[FundingYearBase]:
    """Every funding year set, newest first."""
    return list(session.exec(select(model).order_by(col(model.year).desc())).all())


def rates_by_year(session: Session, *, model: YearTable = FundingYear) -> dict[int, dict[Qualification, int]]:
    """Every year's fixed amounts by qualification level."""
    return {y.year: y.rates() for y in list_years(session, model=model)}


def position_grants(
    session: Session, *, fte: float, qualification: Qualification, starts_on: date, ends_on: date,
    model: YearTable = FundingYear,
) -> list[YearGrant]:
    """The position's grant per funding year at the rates this node knows."""
    return grants(fte=fte, qualification=qualification, starts_on=starts_on, ends_on=ends_on,
                  rates=rates_by_year(session, model=model))


class PositionTerm(Protocol):
    fte: float
    qualification: Any
    starts_on: date
    ends_on: date
    status: Any


def grants_of(session: Session, *, position: PositionTerm, model: YearTable = FundingYear) -> list[YearGrant]:
    """A position's grant per funding year; none while it is applied for, nor once refused or withdrawn."""
    if position.status not in FUNDED:
        return []
    return position_grants(session, fte=position.fte, qualification=position.qualification,
                           starts_on=position.starts_on, ends_on=position.ends_on, model=model)
