"""The programme's rules at opening and the counselling clock: eligibility, household members, extension."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.cases import counselling, service
from services.cases.counselling import CounsellingConflict, years_after
from services.cases.models import TABLES, CaseCreate, HouseholdMember
from shared import clock
from shared.db import Database
from shared.errors import InvalidInput
from shared.events.codes import Eligibility, Mode, Relation, Topic
from tests.unit.conftest import unit
from tests.unit.test_cases_service import NODE, PERSON, STUTTGART, case_of, events, opened, trail

__all__ = ["TABLES"]  # the db fixture builds these
TODAY = clock.today()
UKRAINE = {**PERSON, "accommodation_since": None, "eligibility": Eligibility.temporary_protection_ukraine}


def open_with(db: Database, **changes: Any) -> Any:
    with unit(db) as s:
        return service.open_case(s, tenant=STUTTGART, manager="m1", node=NODE, **{**PERSON, **changes})


def consult(db: Database, case_id: str, held_on: date) -> None:
    with unit(db) as s:
        service.record_consultation(s, case=case_of(s, case_id), held_on=held_on, duration_minutes=30,
                                    mode=Mode.office, topics=[Topic.housing], note=None, actor="m1", node=NODE)


def extend(db: Database, case_id: str, justification: str = "Ausbildung beginnt erst im Herbst") -> Any:
    with unit(db) as s:
        return service.extend_counselling(s, case=case_of(s, case_id), justification=justification,
                                          actor="lead-1", node=NODE)


# -- eligibility at opening -------------------------------------------------------------------
def test_follow_up_accommodation_is_eligible_from_the_move_in_date(db: Database) -> None:
    case = opened(db)
    assert (case.eligibility, case.eligible_since) == (Eligibility.follow_up_accommodation, date(2023, 2, 1))


def test_temporary_protection_is_eligible_from_the_date_it_was_granted(db: Database) -> None:
    case = open_with(db, **{**UKRAINE, "eligible_since": date(2022, 6, 1)})
    assert (case.eligibility, case.eligible_since, case.accommodation_since) == (
        Eligibility.temporary_protection_ukraine, date(2022, 6, 1), None)
    assert events(db)[-1].payload["eligibility"] == "temporary_protection_ukraine"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"accommodation_since": None}, "accommodation_since", "required when eligibility is follow_up"),
    ({**UKRAINE, "eligible_since": None}, "eligible_since", "§ 24 AufenthG"),
    ({**UKRAINE, "eligible_since": date(2021, 12, 1)}, "eligible_since", "must not be before 2022-03-04"),
])
def test_a_case_that_fits_neither_group_is_refused_naming_the_field(
        db: Database, changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_with(db, **changes)
    assert refused.value.field == field and words in refused.value.reason
    assert events(db) == []  # nothing half written


def test_any_other_eligibility_is_refused_by_the_body() -> None:
    body = {**PERSON, "birth_date": "1990-05-17", "accommodation_since": "2023-02-01",
            "eligibility": "initial_reception"}
    with pytest.raises(ValidationError) as refused:
        CaseCreate.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("eligibility",)]


# -- household members counselled alongside ---------------------------------------------------
def test_household_members_are_kept_and_counted_by_relation_without_a_name(db: Database) -> None:
    members = [HouseholdMember(relation=Relation.partner, birth_year=1988),
               HouseholdMember(relation=Relation.child, birth_year=2015), HouseholdMember(relation=Relation.child)]
    case = open_with(db, household_members=members)
    with db.session() as s:
        assert case_of(s, case.id).household_members == [
            {"relation": "partner", "birth_year": 1988}, {"relation": "child", "birth_year": 2015},
            {"relation": "child", "birth_year": None}]
    assert events(db)[-1].payload["household_members"] == {"partner": 1, "child": 2}
    assert "1988" not in events(db)[-1].to_json()  # birth years stay in the case file


def test_more_members_than_the_household_has_is_refused(db: Database) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_with(db, household_size=2, household_members=[HouseholdMember(relation=Relation.child)] * 2)
    assert refused.value.field == "household_members" and "household_size - 1 = 1" in refused.value.reason


# -- the counselling clock ----------------------------------------------------------------------
def test_the_first_consultation_starts_a_three_year_clock_and_announces_it(db: Database) -> None:
    case = opened(db)
    first = TODAY - timedelta(days=10)
    consult(db, case.id, first)
    consult(db, case.id, TODAY)  # later consultations leave the clock alone
    with db.session() as s:
        stored = case_of(s, case.id)
    assert (stored.first_consultation_on, stored.counselling_ends_on) == (first, years_after(first, 3))
    clock = [e for e in events(db) if e.type == "CounsellingPeriodSet"]
    assert [e.payload for e in clock] == [{"case_id": case.id, "manager": "m1",
                                           "ends_on": years_after(first, 3).isoformat(), "extended": False}]


def test_a_back_dated_first_consultation_moves_the_clock(db: Database) -> None:
    case = opened(db)
    consult(db, case.id, TODAY)
    consult(db, case.id, TODAY - timedelta(days=100))
    with db.session() as s:
        assert case_of(s, case.id).counselling_ends_on == years_after(TODAY - timedelta(days=100), 3)
    assert len([e for e in events(db) if e.type == "CounsellingPeriodSet"]) == 2


def test_a_consultation_after_the_clock_ended_is_refused(db: Database) -> None:
    case = opened(db)
    consult(db, case.id, TODAY - timedelta(days=3 * 366 + 5))
    with pytest.raises(CounsellingConflict, match="a lead may extend it once"):
        consult(db, case.id, TODAY)
    extend(db, case.id)
    consult(db, case.id, TODAY)  # the fourth year allows it


def test_the_lead_extends_once_to_four_years_and_a_second_time_is_refused(db: Database) -> None:
    case = opened(db)
    first = TODAY - timedelta(days=400)
    consult(db, case.id, first)
    extended = extend(db, case.id)
    assert (extended.counselling_ends_on, extended.counselling_extended_on) == (years_after(first, 4), TODAY)
    assert extended.extension_justification == "Ausbildung beginnt erst im Herbst"
    assert trail(db, case.id)[-1] == ("extend_counselling", "lead-1", f"ends_on {years_after(first, 4)}")
    clock, extended = events(db)[-2:]
    assert (clock.type, clock.payload["extended"], clock.payload["ends_on"]) == (
        "CounsellingPeriodSet", True, years_after(first, 4).isoformat())
    assert (extended.type, extended.scope, extended.payload) == (
        "CounsellingExtended", "up", {"case_id": case.id, "extended_on": TODAY.isoformat()})
    assert "Ausbildung" not in clock.to_json() + extended.to_json()
    with pytest.raises(CounsellingConflict, match="only once"):
        extend(db, case.id, "noch einmal verlängern")


def test_no_extension_before_the_clock_started(db: Database) -> None:
    case = opened(db)
    with pytest.raises(CounsellingConflict, match="no consultation recorded yet"):
        extend(db, case.id)


def test_29_february_ends_on_28_february() -> None:
    assert years_after(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert counselling.YEARS == 3 and counselling.EXTENDED_YEARS == 4
