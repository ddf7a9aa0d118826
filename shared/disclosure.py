"""Disclosure control for figures that leave a node or reach the state: small cells withheld, and none
recoverable by subtracting two answers.

A figure is published as one table per question: a cell per municipality and their total. Every
answer (one municipality's, or the statewide one) is read from the same protected table, so two
answers can only be subtracted the way the table allows:
- primary: a cell of 1 to MIN_CELL - 1 is withheld (0 and MIN_CELL or more are shown);
- secondary: the total minus the shown cells is the sum of the withheld ones. So while only one
  cell is withheld, or the withheld ones add up to fewer than MIN_CELL, the next smallest shown
  non-zero cell is withheld too; when none is left, the total is withheld;
- a total of 1 to MIN_CELL - 1 is withheld (then every non-zero cell is too).
Questions must not overlap in any other way (e.g. a fixed calendar year, not free date windows):
the caller of `protect` makes each table a partition of what the total counts.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

MIN_CELL = 5
K = TypeVar("K", bound=Hashable)


def small(count: int) -> bool:
    """A count that may single people out: 1 to MIN_CELL - 1 (0 is shown)."""
    return 0 < count < MIN_CELL


@dataclass(frozen=True)
class Protected(Generic[K]):
    """A table as it may be published: None where a cell or the total is withheld."""

    cells: dict[K, int | None]
    total: int | None

    def cell(self, key: K) -> int | None:
        """A cell of the table; a key it does not hold counts 0."""
        return self.cells.get(key, 0)


def protect(cells: Mapping[K, int], *, minimum: int = MIN_CELL) -> Protected[K]:
    """The table with small cells withheld, and as many more as it takes that none can be recomputed."""
    total = sum(cells.values())
    withheld = {k for k, v in cells.items() if 0 < v < minimum}
    total_withheld = 0 < total < minimum
    if withheld and not total_withheld:
        shown = sorted((v, str(k), k) for k, v in cells.items() if k not in withheld and v > 0)
        while len(withheld) == 1 or sum(cells[k] for k in withheld) < minimum:
            if not shown:
                total_withheld = True
                break
            withheld.add(shown.pop(0)[2])
    return Protected({k: None if k in withheld else v for k, v in cells.items()},
                     None if total_withheld else total)
