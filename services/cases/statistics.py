"""Consultation statistics at either level: what is counted, small-cell suppression, the answer's shape.

What is counted: consultations by the day they were held (`from`..`to` inclusive); a consultation
with several topics counts, with all its minutes, once in each of them; open cases are those open
now, whatever the window. A client is a case file: at state a (node, pseudonym) pair, on a
municipal node (the lead's figures) a case id.

Rules (DESIGN.md "Federation": statistics at state level suppress small cells; a lead's figures
follow the same rules, so the two levels publish the same numbers for a municipality):
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import InvalidInput
from shared.events.codes import Mode, Topic

MIN_CELL = 5
# Plain strings: the keys of counts read back from the tables.
TOPICS, MODES = [t.value for t in Topic], [m.value for m in Mode]


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
    """GET /statistics/consultations: statewide, or one municipality's (or a lead's), in a date window."""

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
    # A municipality's answer only: household members counselled alongside, of the clients counselled in the window.
    household_members: int | None = None
    household_members_suppressed: bool = False


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


def check_window(from_: date | None, to: date | None) -> None:
    """A date window ending before it starts is refused, naming `to`."""
    if from_ is not None and to is not None and to < from_:
        raise InvalidInput("to", "must not be before from")


class Tally:
    """Exact counts by mode, month and topic, added up from rows or groups of consultations."""

    def __init__(self) -> None:
        self.modes: dict[str, list[int]] = {m: [0, 0] for m in MODES}
        self.months: dict[str, list[int]] = {}
        self.topics: dict[str, list[int]] = {t: [0, 0] for t in TOPICS}

    def add(self, *, mode: str, month: str, minutes: int, count: int = 1) -> None:
        """`count` consultations of one mode and month with their minutes."""
        for cell in (self.modes.setdefault(mode, [0, 0]), self.months.setdefault(month, [0, 0])):
            cell[0] += count
            cell[1] += minutes

    def add_topics(self, topics: Iterable[str], *, minutes: int, count: int = 1) -> None:
        """`count` consultations in each of these topics (each counts once per topic)."""
        for topic in set(topics):
            if topic in self.topics:
                self.topics[topic][0] += count
                self.topics[topic][1] += minutes

    def publish(self, *, tenant: str | None, from_: date | None, to: date | None,
                distinct_clients: int, open_cases: Sequence[tuple[str, int]]) -> ConsultationStatistics:
        """The answer for these counts, every rule applied."""
        return publish(
            tenant=tenant, from_=from_, to=to, distinct_clients=distinct_clients,
            by_topic=[Cell(k, *self.topics[k]) for k in TOPICS],
            by_mode=[Cell(k, *v) for k, v in self.modes.items()],
            by_month=[Cell(k, *self.months[k]) for k in sorted(self.months)],
            open_cases=open_cases)
