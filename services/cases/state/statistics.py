"""State level: small-cell suppression and the shape of the published consultation statistics.

What is counted: consultations by the day they were held (`from`..`to` inclusive); a consultation
with several topics counts, with all its minutes, once in each of them; a client is a case file,
known to the state only by its node's pseudonym; open cases are those open now, whatever the window.

Rules (DESIGN.md "Federation": statistics at state level suppress small cells):
- primary: a cell counting 1-4 consultations is withheld (`consultations` and `minutes` null,
  `suppressed` true); 0 and >= 5 are shown. A distinct-client or open-case count of 1-4 is
  withheld too.
- totals: `consultations` and `minutes` are withheld when the whole answer covers 1-4 consultations.
- secondary (complementary cells, not totals): `by_mode` and `by_month` each add up to the total,
  so a single withheld cell in one of them could be recomputed as total minus the shown cells.
  There the next smallest shown non-zero cell is withheld too. Withholding the total instead would
  not help: the other list would still add up to it. `by_topic` does not add up to the total (a
  consultation with two topics counts in both), so nothing published can be subtracted from it.
This is a line-by-line rule, not an optimal suppression solver: differences between two answers
(e.g. two date windows, or statewide minus the other tenants) can still narrow a withheld cell down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.events.codes import Mode, Topic

MIN_CELL = 5


def small(count: int) -> bool:
    """A count that may single people out: 1 to MIN_CELL - 1 (0 is shown)."""
    return 0 < count < MIN_CELL


@dataclass(frozen=True)
class Cell:
    """Consultations and their minutes for one key (a topic, a mode, a month)."""

    key: str
    consultations: int
    minutes: int


def masked(cells: Sequence[Cell], *, splits_total: bool) -> list[tuple[Cell, bool]]:
    """Each cell with whether it is withheld; `splits_total`: the cells sum to a published total."""
    hidden = [small(c.consultations) for c in cells]
    if splits_total and sum(hidden) == 1:
        shown = [i for i, c in enumerate(cells) if not hidden[i] and c.consultations > 0]
        if shown:  # with none, the single small cell is the whole (small, withheld) total
            hidden[min(shown, key=lambda i: cells[i].consultations)] = True
    return list(zip(cells, hidden, strict=True))


class _Row(BaseModel):
    consultations: int | None
    minutes: int | None
    suppressed: bool


class TopicRow(_Row):
    topic: Topic


class ModeRow(_Row):
    mode: Mode


class MonthRow(_Row):
    month: str = Field(description="YYYY-MM")


class OpenCases(BaseModel):
    """Cases of one municipality open now (opened and not closed), whatever the date window."""

    tenant: str
    open_cases: int | None
    suppressed: bool


class ConsultationStatistics(BaseModel):
    """GET /statistics/consultations: statewide or one municipality's, optionally in a date window."""

    model_config = ConfigDict(populate_by_name=True)

    tenant: str | None
    from_: date | None = Field(alias="from")
    to: date | None
    min_cell: int = MIN_CELL
    consultations: int | None
    minutes: int | None
    totals_suppressed: bool
    distinct_clients: int | None
    distinct_clients_suppressed: bool
    by_topic: list[TopicRow]
    by_mode: list[ModeRow]
    by_month: list[MonthRow]
    open_cases: list[OpenCases]


def _rows(name: str, cells: Sequence[Cell], *, splits_total: bool) -> list[dict[str, object]]:
    return [{name: c.key, "consultations": None if hidden else c.consultations,
             "minutes": None if hidden else c.minutes, "suppressed": hidden}
            for c, hidden in masked(cells, splits_total=splits_total)]


def publish(
    *, tenant: str | None, from_: date | None, to: date | None, by_topic: Sequence[Cell],
    by_mode: Sequence[Cell], by_month: Sequence[Cell], distinct_clients: int,
    open_cases: Sequence[tuple[str, int]],
) -> ConsultationStatistics:
    """The answer with every rule above applied; the inputs are exact counts."""
    consultations = sum(c.consultations for c in by_mode)
    minutes = sum(c.minutes for c in by_mode)
    totals_hidden, clients_hidden = small(consultations), small(distinct_clients)
    return ConsultationStatistics.model_validate({
        "tenant": tenant, "from": from_, "to": to,
        "consultations": None if totals_hidden else consultations,
        "minutes": None if totals_hidden else minutes, "totals_suppressed": totals_hidden,
        "distinct_clients": None if clients_hidden else distinct_clients,
        "distinct_clients_suppressed": clients_hidden,
        "by_topic": _rows("topic", by_topic, splits_total=False),
        "by_mode": _rows("mode", by_mode, splits_total=True),
        "by_month": _rows("month", by_month, splits_total=True),
        "open_cases": [{"tenant": t, "open_cases": None if small(n) else n, "suppressed": small(n)}
                       for t, n in open_cases],
    })
