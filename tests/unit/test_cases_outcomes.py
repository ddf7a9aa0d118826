"""Case outcomes at the state: what is counted per year, and an attacker subtracting answers recovers nothing."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, timedelta
from typing import Any

import pytest

from services.cases.state import outcomes, service
from services.cases.state.models import TABLES
from shared.db import Database
from shared.disclosure import MIN_CELL
from shared.errors import InvalidInput
from shared.events.codes import CloseReason, Eligibility, Mode, Topic
from tests.unit.conftest import unit

__all__ = ["TABLES"]  # the db fixture builds these
TODAY = date(2026, 6, 1)
TENANTS = ("08111000", "08221000", "08222000", "08212000")
EVENTS = (f"01J{n:023d}" for n in itertools.count())
CLIENTS = itertools.count()


def case(db: Database, tenant: str, *, first: date, opened: date | None = None, closed: date | None = None,
         reason: CloseReason = CloseReason.independent, extended: bool = False, members: int = 0,
         eligibility: Eligibility = Eligibility.follow_up_accommodation) -> None:
    client = hashlib.sha256(str(next(CLIENTS)).encode()).hexdigest()
    where = {"node": "node-a", "tenant": tenant, "client": client}
    with unit(db) as s:
        service.note_case_opened(s, **where, opened_on=opened or first, eligibility=eligibility,
                                 household_members=members)
        service.note_consultation(s, event_id=next(EVENTS), **where, held_on=first, mode=Mode.office,
                                  topics=[Topic.work], duration_minutes=30)
        service.note_consultation(s, event_id=next(EVENTS), **where, held_on=first + timedelta(days=40),
                                  mode=Mode.office, topics=[Topic.work], duration_minutes=30)
        if closed:
            service.note_case_closed(s, **where, closed_on=closed, reason=reason)
        if extended:
            service.note_counselling_extended(s, **where, extended_on=first + timedelta(days=900))


def answer(db: Database, tenant: str | None, year: int = 2025) -> dict[str, Any]:
    with db.session() as s:
        return outcomes.case_outcomes(s, year=year, tenant=tenant, today=TODAY).model_dump(mode="json")


def figures(result: dict[str, Any]) -> dict[str, int | None]:
    """Every count of an answer, by its place in it."""
    found = {"closed_independent": result["time_to_independence"]["closed_independent"]["count"],
             "period_ended": result["counselling_period_ended"]["count"],
             "members": result["household_members_opened"]["count"]}
    found.update({f"opened_{e}": f["count"] for e, f in result["opened_by_eligibility"].items()})
    return found


@pytest.fixture
def statewide(db: Database) -> Database:
    a, b, c, _ = TENANTS
    for _ in range(2):  # a small cell: two clients became independent in a
        case(db, a, first=date(2023, 1, 10), closed=date(2025, 4, 1))
    for n in range(7):
        case(db, b, first=date(2023, 1, 10) + timedelta(days=30 * n), closed=date(2025, 5, 1))
    for _ in range(9):
        case(db, c, first=date(2024, 1, 10), closed=date(2025, 2, 1))
    case(db, c, first=date(2024, 1, 10), closed=date(2025, 2, 1), reason=CloseReason.moved_away)  # not counted
    for _ in range(6):  # the period (three years) ran out on 01.03.2025, still open
        case(db, a, first=date(2022, 3, 1), members=1)
    for _ in range(3):
        case(db, b, first=date(2022, 3, 1), eligibility=Eligibility.temporary_protection_ukraine)
    case(db, c, first=date(2022, 3, 1), extended=True)  # extended: runs until 2026
    case(db, c, first=date(2022, 3, 1), closed=date(2024, 12, 1), reason=CloseReason.other)  # closed before
    for _ in range(8):
        case(db, c, first=date(2022, 5, 1), opened=date(2025, 1, 3), members=2)
    return db


def test_what_is_counted(statewide: Database) -> None:
    whole = answer(statewide, None)
    assert whole["time_to_independence"]["closed_independent"] == {"count": 18, "withheld": False}
    assert whole["time_to_independence"]["median_months"] == 17.2  # (388 + 661 days) / 2, in months
    assert whole["counselling_period_ended"]["count"] == 6 + 3 + 8
    c = answer(statewide, TENANTS[2])
    assert c["time_to_independence"]["closed_independent"]["count"] == 9
    assert c["time_to_independence"]["median_months"] == pytest.approx(12.7, abs=0.1)
    assert c["household_members_opened"]["count"] == 16
    assert answer(statewide, TENANTS[3])["counselling_period_ended"] == {"count": 0, "withheld": False}


def test_small_cells_are_withheld_with_their_median(statewide: Database) -> None:
    a = answer(statewide, TENANTS[0])["time_to_independence"]
    assert a == {"closed_independent": {"count": None, "withheld": True}, "median_months": None}
    # b's 7 are withheld as well: else the statewide 18 minus c's 9 minus b's 7 would give a's 2
    assert answer(statewide, TENANTS[1])["time_to_independence"]["closed_independent"]["withheld"]


def test_subtracting_answers_recovers_no_withheld_cell(statewide: Database) -> None:
    """The attacker asks every question the API answers for the year and subtracts in every way."""
    whole = figures(answer(statewide, None))
    by_tenant = {t: figures(answer(statewide, t)) for t in TENANTS}
    withheld_somewhere = 0
    for name, total in whole.items():
        cells = {t: by_tenant[t][name] for t in TENANTS}
        published = [v for v in [total, *cells.values()] if v is not None]
        assert all(v == 0 or v >= MIN_CELL for v in published), (name, published)
        hidden = [t for t, v in cells.items() if v is None]
        withheld_somewhere += len(hidden)
        for t in hidden:  # total minus every other answer: possible only when exactly one is missing
            others = [cells[o] for o in TENANTS if o != t]
            assert total is None or None in others, f"{name} of {t} = {total} - {others}"
    assert withheld_somewhere >= 3  # the attack had something to try


def test_the_year_must_be_a_calendar_year_up_to_now(db: Database) -> None:
    with db.session() as s, pytest.raises(InvalidInput) as refused:
        outcomes.case_outcomes(s, year=2027, tenant=None, today=TODAY)
    assert refused.value.field == "year"
