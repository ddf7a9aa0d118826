"""Bar charts drawn on the server as SVG: no chart library, no script; the page's table holds the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 640
LABEL_W = 210  # labels end here, right-aligned
BAR_X = 220
BAR_MAX = 340  # the longest bar; the value is written after it
ROW_H = 30
BAR_H = 20
TOP = 8
WITHHELD_W = 14  # an outlined stub: the bar is there, its length is not shown


@dataclass(frozen=True)
class Item:
    """One bar: its label, its count (None when withheld) and whether the API withheld it."""

    label: str
    count: int | None
    withheld: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    withheld: bool
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    label_anchor: str = "end"
    value_anchor: str = "start"


@dataclass(frozen=True)
class Chart:
    """What the SVG macro draws: its accessible name and description, the bars and the grid."""

    id: str
    title: str
    description: str
    width: int
    height: int
    bars: list[Bar]
    grid: list[dict[str, float]] = field(default_factory=list)


def horizontal(chart_id: str, title: str, description: str, items: Sequence[Item], withheld_text: str) -> Chart:
    """One horizontal bar per item, longest for the largest shown count; withheld ones as outlined stubs."""
    top = max([i.count for i in items if i.count is not None and not i.withheld] + [0])
    bars = []
    for n, item in enumerate(items):
        y = TOP + n * ROW_H
        hidden = item.withheld or item.count is None
        width = WITHHELD_W if hidden else (BAR_MAX * (item.count or 0) / top if top else 0)
        text_y = y + BAR_H / 2 + 5
        bars.append(Bar(label=item.label, value=withheld_text if hidden else str(item.count), withheld=hidden,
                        x=BAR_X, y=y, width=round(width, 1), height=BAR_H, label_x=LABEL_W, label_y=text_y,
                        value_x=round(BAR_X + width + 6, 1), value_y=text_y))
    height = TOP * 2 + max(1, len(items)) * ROW_H
    grid: list[dict[str, float]] = [{"x1": BAR_X, "y1": 0, "x2": BAR_X, "y2": height}]  # the bars' baseline
    return Chart(id=chart_id, title=title, description=description, width=WIDTH, height=height, bars=bars,
                 grid=grid)
