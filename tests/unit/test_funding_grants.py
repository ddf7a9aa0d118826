"""Funding years and grants: rate × FTE × funded months / 12, the same function on both levels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import Table
from sqlmodel import select

from services.funding import models, service, years
from services.funding.grants import funded_months, grant_eur, grants
from services.funding.models import FundingOccupancy, FundingYear, PositionCreate
from services.funding.state import models as state_models
from services.funding.state import service as state_service
from services.funding.state.models import FundingStateYear
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import NotFound
from shared.events import Envelope, parse_payload
from shared.events.codes import PositionStatus
from shared.events.funding import FundingYearSet, Qualification
from shared.federation.keys import DOWN_ALL, STATE_TENANT

RATES = {2026: {Qualification.vocational: 51_000, Qualification.academic: 60_000},
         2027: {Qualification.vocational: 52_000, Qualification.academic: 61_200}}


@pytest.mark.parametrize(("starts_on", "ends_on", "year", "months"), [
    (date(2026, 1, 1), date(2027, 12, 31), 2026, 12),
    (date(2026, 3, 1), date(2028, 2, 29), 2026, 10),   # March to December
    (date(2026, 3, 1), date(2028, 2, 29), 2028, 2),    # January and February
    (date(2026, 3, 16), date(2028, 3, 15), 2026, 9),   # the 15th of March is before the term: April on
    (date(2026, 3, 16), date(2028, 3, 15), 2028, 3),   # ... and the 15th of March 2028 is in it
    (date(2026, 1, 1), date(2028, 1, 1), 2028, 0),     # one day of January is no funded month
    (date(2026, 6, 1), date(2026, 6, 30), 2026, 1),
    (date(2026, 6, 1), date(2026, 6, 30), 2025, 0),
])
def test_funded_months_count_the_months_whose_15th_the_term_covers(
        starts_on: date, ends_on: date, year: int, months: int) -> None:
    assert funded_months(starts_on=starts_on, ends_on=ends_on, year=year) == months


def test_the_grant_is_rate_times_fte_times_months_over_twelve_to_the_cent() -> None:
    assert grant_eur(rate_eur=51_000, fte=1.0, months=12) == Decimal("51000.00")
    assert grant_eur(rate_eur=60_000, fte=0.5, months=12) == Decimal("30000.00")
    assert grant_eur(rate_eur=51_000, fte=0.55, months=7) == Decimal("16362.50")
    assert grant_eur(rate_eur=51_000, fte=0.35, months=1) == Decimal("1487.50")
    assert grant_eur(rate_eur=61_234, fte=0.25, months=5) == Decimal("6378.54")  # 6378.541... rounded


def test_grants_per_year_with_unknown_rates_left_open() -> None:
    found = grants(fte=0.5, qualification=Qualification.academic, starts_on=date(2026, 3, 1),
                   ends_on=date(2028, 2, 29), rates=RATES)
    assert [(g.year, g.months, g.rate_eur, g.amount_eur) for g in found] == [
        (2026, 10, 60_000, Decimal("25000.00")), (2027, 12, 61_200, Decimal("30600.00")), (2028, 2, None, None)]


@pytest.mark.parametrize(("fte", "accepted"), [
    (0.2, False), (0.24, False), (0.25, True), (0.3, True), (0.55, True), (0.33, False), (1.0, True), (1.05, False),
])
def test_fte_is_at_least_a_quarter_in_steps_of_five_hundredths(fte: float, accepted: bool) -> None:
    body = {"fte": fte, "starts_on": "2026-01-01", "ends_on": "2027-12-31"}
    if accepted:
        assert PositionCreate.model_validate(body).fte == fte
        return
    with pytest.raises(ValidationError) as err:
        PositionCreate.model_validate(body)
    assert err.value.errors()[0]["loc"] == ("fte",)


def test_a_new_position_defaults_to_the_vocational_rate() -> None:
    body = {"fte": 0.5, "starts_on": "2026-01-01", "ends_on": "2027-12-31"}
    assert PositionCreate.model_validate(body).qualification == Qualification.vocational
    assert PositionCreate.model_validate({**body, "qualification": "academic"}).qualification == "academic"


def test_the_state_sets_a_year_and_sends_it_down_to_every_node(
        database: Callable[[Sequence[Table]], Database]) -> None:
    with database(state_models.TABLES).session() as s:
        state_service.set_year(s, year=2027, budget_eur=48_000_000, rates_eur=dict(RATES[2027]), node="state")
        s.commit()
        (row,) = s.exec(select(OutboxEvent)).all()
        env = Envelope.model_validate_json(row.body)
        assert (row.stream, env.scope, env.target_node, env.tenant) == (DOWN_ALL, "down", "*", STATE_TENANT)
        sent = parse_payload(env)
        assert isinstance(sent, FundingYearSet) and sent.rates_eur == RATES[2027]
        assert years.get_year(s, year=2027, model=FundingStateYear).budget_eur == 48_000_000
        # set again: the year is replaced, not doubled, and goes down again
        state_service.set_year(s, year=2027, budget_eur=50_000_000, rates_eur=dict(RATES[2027]), node="state")
        s.commit()
        assert [y.budget_eur for y in years.list_years(s, model=FundingStateYear)] == [50_000_000]
        assert len(s.exec(select(OutboxEvent)).all()) == 2
        with pytest.raises(NotFound):
            years.get_year(s, year=2026, model=FundingStateYear)


def test_both_levels_compute_the_same_grants(database: Callable[[Sequence[Table]], Database]) -> None:
    with database(models.TABLES).session() as m, database(state_models.TABLES).session() as st:
        for s, model in ((m, FundingYear), (st, FundingStateYear)):
            for year, rates in RATES.items():
                years.store_year(s, year=year, budget_eur=1, rates_eur=dict(rates), model=model)
        p = service.register_position(m, tenant="08111000", fte=0.5, qualification=Qualification.academic,
                                      starts_on=date(2026, 3, 1), ends_on=date(2028, 2, 29), actor="lead",
                                      node="node-a")
        state_service.record_position(st, node="node-a", tenant="08111000", position_id=p.id, fte=0.5,
                                      status=PositionStatus.approved, starts_on=p.starts_on, ends_on=p.ends_on,
                                      qualification=Qualification.academic)
        here = years.position_grants(m, fte=p.fte, qualification=p.qualification, starts_on=p.starts_on,
                                     ends_on=p.ends_on)
        s_p = state_service.find_position(st, position_id=p.id)
        there = years.position_grants(st, fte=s_p.fte, qualification=s_p.qualification, starts_on=s_p.starts_on,
                                      ends_on=s_p.ends_on, model=FundingStateYear)
        assert here == there and here[0].amount_eur == Decimal("25000.00")


def test_occupancy_changes_are_kept_as_history(database: Callable[[Sequence[Table]], Database]) -> None:
    with database(models.TABLES).session() as s:
        p = service.register_position(s, tenant="08111000", fte=0.5, starts_on=date(2026, 1, 1),
                                      ends_on=date(2027, 12, 31), actor="lead", node="node-a")
        for occupied, since in ((True, date(2026, 2, 1)), (True, date(2026, 3, 1)), (False, date(2026, 9, 1))):
            service.change_occupancy(s, position=p, occupied=occupied, since=since, node="node-a", actor="lead")
        s.commit()
        history = service.occupancy_history(s, position_id=p.id)
        assert [(h.occupied, h.since, h.recorded_by) for h in history] == [
            (True, date(2026, 2, 1), "lead"), (False, date(2026, 9, 1), "lead")]  # no change, no entry
        assert len(s.exec(select(FundingOccupancy)).all()) == 2
