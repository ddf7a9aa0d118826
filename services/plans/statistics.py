"""Goal statistics at either level: small-cell suppression, the totals that would reveal a cell, the answer.

Counted: goals by area and status (every goal of a plan, whatever the plan's state), and the
distinct clients with goals: at state a (node, case pseudonym) pair, on a municipal node (the lead's
figures) a case. Both levels publish the same numbers for a municipality.

Rules (DESIGN.md "Federation": statistics at state level suppress small cells; a lead's figures
follow the same rules):
- primary: a count of 1-4 is withheld (`count` null, `suppressed` true); 0 and >= 5 are shown;
- secondary: a total is withheld when it is small itself, or when exactly one of the parts it sums
  is withheld, since subtracting the shown parts from the total would give that part back. Row and
  column totals sum their cells; the grand total sums all cells, and also the row totals and the
  column totals, so it is withheld when exactly one of either margin is.
This is the simple line-by-line rule, not an optimal cell-suppression solver: combinations of
several rows and columns, or differences between two answers (e.g. statewide minus one tenant),
can still narrow a withheld cell down.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.events.codes import GoalStatus, Topic
from shared.events.plans import STEP_STATUSES, PartnerType, StepActor, StepStatus

MIN_CELL = 5
R = TypeVar("R", bound=Hashable)
C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class Masked:
    """A count as it may be published."""

    value: int
    suppressed: bool

    @property
    def count(self) -> int | None:
        return None if self.suppressed else self.value


def small(count: int) -> bool:
    return 0 < count < MIN_CELL


def primary(count: int) -> Masked:
    """A stand-alone count (e.g. distinct clients): withheld when small."""
    return Masked(count, small(count))


def total_of(parts: Sequence[Masked]) -> Masked:
    """A total: withheld when small, or when exactly one of its parts is withheld."""
    value = sum(p.value for p in parts)
    return Masked(value, small(value) or sum(p.suppressed for p in parts) == 1)


@dataclass(frozen=True)
class CrossTable(Generic[R, C]):
    """Cells by (row, column) with row totals, column totals and the grand total, all masked."""

    cells: dict[tuple[R, C], Masked]
    row_totals: dict[R, Masked]
    column_totals: dict[C, Masked]
    total: Masked


def cross_table(counts: Mapping[tuple[R, C], int], rows: Sequence[R],
                columns: Sequence[C]) -> CrossTable[R, C]:
    """Every row x column cell (missing ones are 0) with its margins, suppressed as documented."""
    cells = {(r, c): primary(counts.get((r, c), 0)) for r in rows for c in columns}
    row_totals = {r: total_of([cells[r, c] for c in columns]) for r in rows}
    column_totals = {c: total_of([cells[r, c] for r in rows]) for c in columns}
    by_cells = total_of(list(cells.values()))
    by_rows = total_of(list(row_totals.values()))
    by_columns = total_of(list(column_totals.values()))
    grand = Masked(by_cells.value,
                   by_cells.suppressed or by_rows.suppressed or by_columns.suppressed)
    return CrossTable(cells, row_totals, column_totals, grand)


class Count(BaseModel):
    """A published count: null with `suppressed` true when it is small or would reveal one."""

    count: int | None
    suppressed: bool

    @classmethod
    def of(cls, masked: Masked) -> Count:
        return cls(count=masked.count, suppressed=masked.suppressed)


class GoalCount(Count):
    area: Topic
    status: GoalStatus


class AreaCount(Count):
    area: Topic


class StatusCount(Count):
    status: GoalStatus


class GoalStatistics(BaseModel):
    """Goals by area and status with totals; `clients` counts distinct clients with goals."""

    tenant: str | None
    min_cell: int
    cells: list[GoalCount]
    by_area: list[AreaCount]
    by_status: list[StatusCount]
    total: Count
    clients: Count

    @classmethod
    def of(cls, tenant: str | None, table: CrossTable[Topic, GoalStatus],
           clients: Masked) -> GoalStatistics:
        return cls(
            tenant=tenant, min_cell=MIN_CELL,
            cells=[GoalCount(area=a, status=s, count=m.count, suppressed=m.suppressed)
                   for (a, s), m in table.cells.items()],
            by_area=[AreaCount(area=a, count=m.count, suppressed=m.suppressed)
                     for a, m in table.row_totals.items()],
            by_status=[StatusCount(status=s, count=m.count, suppressed=m.suppressed)
                       for s, m in table.column_totals.items()],
            total=Count.of(table.total), clients=Count.of(clients))


def goal_table(rows: Sequence[tuple[str, str, int]]) -> CrossTable[Topic, GoalStatus]:
    """Counts read back as (area, status, n) rows, in every area x status cell, suppressed."""
    counts = {(Topic(area), GoalStatus(status)): n for area, status, n in rows}
    return cross_table(counts, list(Topic), list(GoalStatus))


REFERRAL_STATUSES = list(STEP_STATUSES[StepActor.partner])


class ReferralCount(Count):
    partner_type: PartnerType
    status: StepStatus


class PartnerCount(Count):
    partner_type: PartnerType


class ReferralStatusCount(Count):
    status: StepStatus


class ReferralStatistics(BaseModel):
    """Referrals to partner services by partner type and status with totals; `clients` counts clients referred."""

    tenant: str | None
    min_cell: int
    cells: list[ReferralCount]
    by_partner_type: list[PartnerCount]
    by_status: list[ReferralStatusCount]
    total: Count
    clients: Count

    @classmethod
    def of(cls, tenant: str | None, table: CrossTable[PartnerType, StepStatus],
           clients: Masked) -> ReferralStatistics:
        return cls(
            tenant=tenant, min_cell=MIN_CELL,
            cells=[ReferralCount(partner_type=p, status=s, count=m.count, suppressed=m.suppressed)
                   for (p, s), m in table.cells.items()],
            by_partner_type=[PartnerCount(partner_type=p, count=m.count, suppressed=m.suppressed)
                             for p, m in table.row_totals.items()],
            by_status=[ReferralStatusCount(status=s, count=m.count, suppressed=m.suppressed)
                       for s, m in table.column_totals.items()],
            total=Count.of(table.total), clients=Count.of(clients))


def referral_table(rows: Sequence[tuple[str, str, int]]) -> CrossTable[PartnerType, StepStatus]:
    """Counts read back as (partner type, status, n) rows, in every type x status cell, suppressed."""
    counts = {(PartnerType(p), StepStatus(s)): n for p, s, n in rows}
    return cross_table(counts, list(PartnerType), REFERRAL_STATUSES)
