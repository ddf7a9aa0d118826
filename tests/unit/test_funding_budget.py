"""The state's budget: allocation keys per district (JSON or CSV), allocations, commitments, warnings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Table
from sqlmodel import Session

from services.funding import years
from services.funding.state import budget, service
from services.funding.state.models import TABLES, FundingStateYear
from services.funding.terms import add_months
from shared.db import Database
from shared.errors import InvalidInput, NotFound
from shared.events.codes import PositionStatus
from shared.events.funding import Qualification

RATES = {Qualification.vocational: 51_000, Qualification.academic: 60_000}
STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"


@pytest.fixture
def session(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database(TABLES).session() as s:
        for year in (2026, 2027, 2028):
            years.store_year(s, year=year, budget_eur=1_000_000, rates_eur=dict(RATES), model=FundingStateYear)
        yield s


def position(s: Session, pid: str, tenant: str, fte: float, ends_on: date = date(2027, 12, 31)) -> None:
    service.record_position(s, node="node-a", tenant=tenant, position_id=pid, fte=fte,
                            status=PositionStatus.approved, starts_on=date(2026, 1, 1), ends_on=ends_on,
                            qualification=Qualification.academic)


def test_the_budget_is_allocated_by_key_and_commitments_are_the_grants_of_the_year(session: Session) -> None:
    budget.set_keys(session, year=2027, keys={"08111": 3.0, "08221": 1.0})
    position(session, "p1", STUTTGART, 1.0)
    position(session, "p2", HEIDELBERG, 0.5)
    position(session, "p3", MANNHEIM, 0.25)  # Mannheim's district has no key
    found = budget.year_budget(session, year=2027)
    by = {d.district: d for d in found.districts}
    assert (by["08111"].allocation_eur, by["08111"].committed_eur) == (Decimal("750000.00"), Decimal("60000.00"))
    assert (by["08221"].allocation_eur, by["08221"].committed_eur) == (Decimal("250000.00"), Decimal("30000.00"))
    assert (by["08222"].allocation_eur, by["08222"].committed_eur) == (None, Decimal("15000.00"))
    assert found.committed_eur == Decimal("105000.00") and found.budget_eur == 1_000_000
    # new keys replace the old ones
    budget.set_keys(session, year=2027, keys={"08111": 1.0})
    assert [d.district for d in budget.year_budget(session, year=2027).districts if d.share] == ["08111"]


def test_csv_keys_with_a_header_semicolons_and_decimal_commas() -> None:
    assert budget.parse_csv("Kreis;Anteil\n08111;5,25\n08221;2\n") == {"08111": 5.25, "08221": 2.0}
    assert budget.parse_csv("district,share\r\n08111,0.5\r\n") == {"08111": 0.5}


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("08111;1;2", "two columns"), ("08111;viel", "not a number"),
])
def test_a_bad_csv_names_the_line(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        budget.parse_csv(text)
    assert err.value.field == "body" and reason in err.value.reason


@pytest.mark.parametrize("keys", [{}, {"8111": 1.0}, {"09162": 1.0}, {"08111": 0.0}, {"08111": float("nan")},
                                  {"08111": -1.0}])
def test_bad_keys_are_refused_and_nothing_is_written(session: Session, keys: dict[str, float]) -> None:
    budget.set_keys(session, year=2027, keys={"08111": 1.0})
    with pytest.raises(InvalidInput) as err:
        budget.set_keys(session, year=2027, keys=keys)
    assert err.value.field == "keys"
    assert [d.share for d in budget.year_budget(session, year=2027).districts] == [1.0]


def test_keys_need_a_funding_year(session: Session) -> None:
    with pytest.raises(NotFound):
        budget.set_keys(session, year=2030, keys={"08111": 1.0})


def test_an_extension_warns_before_it_exceeds_the_allocation(session: Session) -> None:
    budget.set_keys(session, year=2028, keys={"08111": 1.0, "08221": 99.0})  # Stuttgart: 10,000 €
    position(session, "p1", STUTTGART, 0.5)
    service.receive_application(session, node="node-a", tenant=STUTTGART, application_id="a1", position_id="p1",
                                applied_on=date(2026, 6, 1), current_ends_on=date(2027, 12, 31),
                                requested_ends_on=add_months(date(2027, 12, 31), 24))
    application = service.get_application(session, application_id="a1")
    (found,) = budget.impact(session, application=application)  # 2028 is the only year set it reaches
    assert (found.year, found.extra_eur, found.district_allocation_eur) == (2028, Decimal("30000.00"),
                                                                              Decimal("10000.00"))
    assert found.exceeds_allocation and not found.exceeds_budget
    service.decide(session, application=application, approved=True, reason=None, actor="o",
                   today=date(2026, 6, 1), node="state")
    # the commitment rose by exactly the grant
    assert budget.committed(session, year=2028) == {"08111": Decimal("30000.00")}
