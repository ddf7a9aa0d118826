"""Small cells withheld, and no withheld cell recoverable as the total minus the cells shown."""

from __future__ import annotations

import itertools
import random

import pytest

from shared.disclosure import MIN_CELL, protect


def recoverable(cells: dict[str, int]) -> list[str]:
    """The attack: every withheld cell that the published total minus the published cells gives exactly."""
    table = protect(cells)
    hidden = [k for k, v in table.cells.items() if v is None]
    if table.total is None or len(hidden) != 1:
        return []
    return hidden


@pytest.mark.parametrize(("cells", "shown", "total"), [
    ({"a": 3, "b": 7, "c": 9}, {"a": None, "b": None, "c": 9}, 19),  # one small cell: the next smallest too
    ({"a": 3, "b": 4, "c": 9}, {"a": None, "b": None, "c": 9}, 16),  # two small cells adding up to 7
    ({"a": 1, "b": 2, "c": 9, "d": 12}, {"a": None, "b": None, "c": None, "d": 12}, 24),  # 1 + 2 < 5
    ({"a": 0, "b": 7, "c": 9}, {"a": 0, "b": 7, "c": 9}, 16),  # nothing small: all shown
    ({"a": 3}, {"a": None}, None),  # the whole is small
    ({"a": 3, "b": 0}, {"a": None, "b": 0}, None),
    ({"a": 2, "b": 2}, {"a": None, "b": None}, None),
    ({}, {}, 0),
])
def test_primary_and_secondary_suppression(cells: dict[str, int], shown: dict[str, int | None],
                                           total: int | None) -> None:
    table = protect(cells)
    assert (table.cells, table.total) == (shown, total)


def test_no_small_figure_is_published_and_differencing_recovers_nothing() -> None:
    rng = random.Random(12)
    tables = [dict(zip("abcdef", (rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 20]) for _ in range(n)), strict=False))
              for n in range(1, 7) for _ in range(300)]
    tables += [dict(zip("abc", combo, strict=True)) for combo in itertools.product(range(8), repeat=3)]
    for cells in tables:
        table = protect(cells)
        published = [v for v in [*table.cells.values(), table.total] if v is not None]
        assert all(v == 0 or v >= MIN_CELL for v in published), cells
        assert recoverable(cells) == [], cells
        hidden = [cells[k] for k, v in table.cells.items() if v is None]
        if hidden and table.total is not None:  # what the difference tells: a sum over several, never small
            assert len(hidden) >= 2 and sum(hidden) >= MIN_CELL, cells
