"""Small-cell suppression for state statistics: small counts and the totals that would reveal them.

Rules (DESIGN.md "Federation": statistics at state level suppress small cells):
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
