"""A position's grant per funding year: the one computation both levels show (rate × FTE × months / 12)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from shared.events.funding import Qualification

CENT = Decimal("0.01")


def funded_months(*, starts_on: date, ends_on: date, year: int) -> int:
    """The months of the funding year the term funds: a month counts when the term covers its 15th.

    The 15th makes a term that ends on the last day and one that ends on the next first day alike.
    """
    return sum(1 for month in range(1, 13) if starts_on <= date(year, month, 15) <= ends_on)


def grant_eur(*, rate_eur: int, fte: float, months: int) -> Decimal:
    """rate × FTE × funded months / 12, to the cent (half up)."""
    # str(fte): 0.55 is 0.55 here, not the binary float's 0.55000000000000004
    return (Decimal(rate_eur) * Decimal(str(fte)) * months / 12).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class YearGrant:
    """The grant of one funding year; `amount_eur` is None while the state has not set the year's rates."""

    year: int
    months: int
    rate_eur: int | None
    amount_eur: Decimal | None


def grants(
    *, fte: float, qualification: Qualification, starts_on: date, ends_on: date,
    rates: Mapping[int, Mapping[Qualification, int]],
) -> list[YearGrant]:
    """The grant of every funding year the term reaches into, oldest first."""
    found = []
    for year in range(starts_on.year, ends_on.year + 1):
        months = funded_months(starts_on=starts_on, ends_on=ends_on, year=year)
        if months == 0:
            continue
        rate = rates.get(year, {}).get(qualification)
        amount = None if rate is None else grant_eur(rate_eur=rate, fte=fte, months=months)
        found.append(YearGrant(year=year, months=months, rate_eur=rate, amount_eur=amount))
    return found
