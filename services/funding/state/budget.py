"""The year's budget at the state: allocation keys per district, allocations, commitments, and warnings."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, col, delete, select

from shared.errors import InvalidInput
from shared.events.funding import ExtensionKind, Qualification

from .. import years
from ..exports import Table
from ..grants import CENT, grants
from ..terms import FUNDED, add_months, months_asked
from .models import (
    DISTRICTS_MAX,
    SHARE_MAX,
    FundingAllocationKey,
    FundingStateApplication,
    FundingStatePosition,
    FundingStateYear,
)


def district_of(tenant: str) -> str:
    """The urban or rural district (Stadt-/Landkreis) of a municipality: the first five digits of its AGS."""
    return tenant[:5]


def parse_csv(text: str) -> dict[str, float]:
    """Allocation keys from a CSV upload: `district;share` (or comma-separated), a header row allowed."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInput("body", "the CSV file is empty")
    delimiter = ";" if ";" in lines[0] else ","
    keys: dict[str, float] = {}
    for number, row in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        if len(row) != 2:
            raise InvalidInput("body", f"line {number}: expected two columns, district and share")
        district, share = row[0].strip(), row[1].strip()
        if number == 1 and not district.isdigit():
            continue  # the header
        try:
            keys[district] = float(share.replace(",", ".") if delimiter == ";" else share)
        except ValueError:
            raise InvalidInput("body", f"line {number}: the share {share[:20]!r} is not a number") from None
    return keys


def check_keys(keys: Mapping[str, float]) -> None:
    """Districts are 5-digit AGS of Baden-Württemberg (08…); shares positive; at least one."""
    if not keys:
        raise InvalidInput("keys", "at least one district")
    if len(keys) > DISTRICTS_MAX:
        raise InvalidInput("keys", f"at most {DISTRICTS_MAX} districts")
    for district, share in keys.items():
        if len(district) != 5 or not district.isdigit() or not district.startswith("08"):
            raise InvalidInput("keys", f"{district[:20]!r} is not a district AGS of Baden-Württemberg (5 digits)")
        if not (share == share and 0 < share <= SHARE_MAX):  # share == share: NaN is no share
            raise InvalidInput("keys", f"the share of {district} must be above 0 and at most {SHARE_MAX}")


def set_keys(session: Session, *, year: int, keys: Mapping[str, float]) -> None:
    """Replace the year's allocation keys (the year must be set)."""
    years.get_year(session, year=year, model=FundingStateYear)
    check_keys(keys)
    session.exec(delete(FundingAllocationKey).where(col(FundingAllocationKey.year) == year))  # type: ignore[call-overload]
    for district, share in sorted(keys.items()):
        session.add(FundingAllocationKey(year=year, district=district, share=share))
    session.flush()


@dataclass(frozen=True)
class DistrictBudget:
    district: str
    share: float | None
    allocation_eur: Decimal | None  # None: no key for this district (it has positions, though)
    committed_eur: Decimal


@dataclass(frozen=True)
class YearBudget:
    year: int
    budget_eur: int
    committed_eur: Decimal
    districts: list[DistrictBudget]


def _position_grant(p: FundingStatePosition, year: int, rates: Mapping[Qualification, int],
                    ends_on: date | None = None) -> Decimal:
    found = grants(fte=p.fte, qualification=p.qualification, starts_on=p.starts_on,
                   ends_on=ends_on or p.ends_on, rates={year: rates})
    return sum((g.amount_eur for g in found if g.year == year and g.amount_eur is not None), Decimal(0))


def committed(session: Session, *, year: int) -> dict[str, Decimal]:
    """Per district: the grants of the year of every position in the register (approved grants)."""
    rates = years.get_year(session, year=year, model=FundingStateYear).rates()
    found: dict[str, Decimal] = {}
    for p in session.exec(select(FundingStatePosition).where(col(FundingStatePosition.status).in_(FUNDED))).all():
        amount = _position_grant(p, year, rates)
        if amount:
            found[district_of(p.tenant)] = found.get(district_of(p.tenant), Decimal(0)) + amount
    return found


def year_budget(session: Session, *, year: int) -> YearBudget:
    """The year's budget, its allocation per district by key, and what is committed against each."""
    funding_year = years.get_year(session, year=year, model=FundingStateYear)
    keys = {k.district: k.share for k in session.exec(
        select(FundingAllocationKey).where(FundingAllocationKey.year == year)).all()}
    total = Decimal(str(sum(keys.values())))
    spent = committed(session, year=year)
    districts = []
    for district in sorted(set(keys) | set(spent)):
        share = keys.get(district)
        allocation = None if share is None else (Decimal(funding_year.budget_eur) * Decimal(str(share)) / total
                                                 ).quantize(CENT, rounding=ROUND_HALF_UP)
        districts.append(DistrictBudget(district=district, share=share, allocation_eur=allocation,
                                        committed_eur=spent.get(district, Decimal(0))))
    return YearBudget(year=year, budget_eur=funding_year.budget_eur,
                      committed_eur=sum(spent.values(), Decimal(0)), districts=districts)


@dataclass(frozen=True)
class Impact:
    """What approving an application adds to a year, and whether it would exceed an allocation or the budget."""

    year: int
    extra_eur: Decimal
    district: str
    district_committed_eur: Decimal
    district_allocation_eur: Decimal | None
    committed_eur: Decimal
    budget_eur: int

    @property
    def exceeds_allocation(self) -> bool:
        return (self.district_allocation_eur is not None
                and self.district_committed_eur + self.extra_eur > self.district_allocation_eur)

    @property
    def exceeds_budget(self) -> bool:
        return self.committed_eur + self.extra_eur > self.budget_eur


def impact(session: Session, *, application: FundingStateApplication) -> list[Impact]:
    """Per funding year set: the grant an approval as asked adds, against the district's allocation and the budget."""
    position = session.get(FundingStatePosition, (application.node, application.position_id))
    if position is None:
        return []
    kind = ExtensionKind(application.kind)
    new_position = kind == ExtensionKind.new_position  # funded nowhere yet: all of its grant is extra
    asked = months_asked(kind=kind, current_ends_on=application.current_ends_on,
                         requested_ends_on=application.requested_ends_on)
    extended_to = add_months(application.current_ends_on if new_position else position.ends_on, asked)
    found = []
    for funding_year in years.list_years(session, model=FundingStateYear):
        rates = funding_year.rates()
        extra = (_position_grant(position, funding_year.year, rates, extended_to)
                 - (Decimal(0) if new_position else _position_grant(position, funding_year.year, rates)))
        if not extra:
            continue
        budget = year_budget(session, year=funding_year.year)
        district = next((d for d in budget.districts if d.district == district_of(position.tenant)), None)
        found.append(Impact(
            year=funding_year.year, extra_eur=extra, district=district_of(position.tenant),
            district_committed_eur=district.committed_eur if district else Decimal(0),
            district_allocation_eur=district.allocation_eur if district else None,
            committed_eur=budget.committed_eur, budget_eur=budget.budget_eur))
    return sorted(found, key=lambda i: i.year)


def budget_tables(found: YearBudget) -> list[Table]:
    """Sheets `Kreise` (allocation and commitments per district) and `Land` (the year's totals)."""
    districts = [[d.district, d.share, None if d.allocation_eur is None else float(d.allocation_eur),
                  float(d.committed_eur),
                  None if d.allocation_eur is None else float(d.allocation_eur - d.committed_eur)]
                 for d in found.districts]
    return [Table("Kreise", ["Kreis (AGS)", "Anteil", "Zuweisung (EUR)", "Gebunden (EUR)", "Verbleibend (EUR)"],
                  districts),
            Table("Land", ["Förderjahr", "Haushaltsansatz (EUR)", "Gebunden (EUR)", "Verbleibend (EUR)"],
                  [[found.year, found.budget_eur, float(found.committed_eur),
                    float(found.budget_eur - found.committed_eur)]])]
