"""Changing a case after it was opened: correcting personal data (audited, never announced), reassignment."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from services.cases import service
from services.cases.changes import CaseUpdate, Reassignment
from services.cases.deps import may_see
from services.cases.models import TABLES, HouseholdMember
from shared import clock
from shared.auth import Principal
from shared.db import Database
from shared.errors import Conflict, InvalidInput
from shared.events.codes import CloseReason, Eligibility, Relation
from tests.unit.conftest import unit
from tests.unit.test_cases_service import NODE, PERSON, STUTTGART, case_of, events, opened, trail

__all__ = ["TABLES"]  # the db fixture builds these


def change(db: Database, case_id: str, **fields: Any) -> Any:
    with unit(db) as s:
        return service.change_case(s, case=case_of(s, case_id), changes=CaseUpdate(**fields).changes(),
                                   actor="m1")


def reassign(db: Database, case_id: str, manager: str) -> Any:
    with unit(db) as s:
        return service.reassign(s, case=case_of(s, case_id), manager=manager, actor="lead-1", node=NODE)


def test_a_correction_changes_the_fields_named_and_audits_only_their_names(db: Database) -> None:
    case = opened(db)
    before = len(events(db))
    changed = change(db, case.id, family_name="Haddad-Nasser", birth_date="1990-05-18", languages=["ar"],
                     nationality="SYR")  # the same nationality: not a change
    assert (changed.family_name, changed.birth_date, changed.languages) == ("Haddad-Nasser", date(1990, 5, 18), ["ar"])
    assert trail(db, case.id)[-1] == ("change", "m1", "changed: birth_date,family_name,languages")
    assert len(events(db)) == before  # personal data is never announced
    change(db, case.id, family_name="Haddad-Nasser")
    assert trail(db, case.id)[-1] == ("change", "m1", "nothing changed")


@pytest.mark.parametrize(("body", "field"), [
    ({}, None), ({"given_name": None}, "given_name"), ({"given_name": " "}, "given_name"),
    ({"manager": "m2"}, "manager"), ({"eligibility": "temporary_protection_ukraine"}, "eligibility"),
    ({"household_size": 0}, "household_size"), ({"birth_date": "2999-01-01"}, "birth_date"),
])
def test_the_body_names_what_is_wrong(body: dict[str, Any], field: str | None) -> None:
    with pytest.raises(ValidationError) as refused:
        CaseUpdate.model_validate(body)
    assert [e["loc"][:1] for e in refused.value.errors()] == [(field,) if field else ()]


def test_a_correction_must_still_fit_the_case(db: Database) -> None:
    case = opened(db)  # follow-up accommodation since 2023-02-01
    for fields, field in [({"accommodation_since": None}, "accommodation_since"),
                          ({"birth_date": "2023-03-01"}, "birth_date"),
                          ({"accommodation_since": "1989-01-01"}, "accommodation_since")]:
        with pytest.raises(InvalidInput) as refused:
            change(db, case.id, **fields)
        assert refused.value.field == field
    with unit(db) as s:
        member = service.open_case(s, tenant=STUTTGART, manager="m1", node=NODE, **{
            **PERSON, "household_members": [HouseholdMember(relation=Relation.child)] * 2})
    with pytest.raises(InvalidInput, match="at least 3"):
        change(db, member.id, household_size=2)
    with unit(db) as s:
        ukraine = service.open_case(s, tenant=STUTTGART, manager="m1", node=NODE, **{
            **PERSON, "eligibility": Eligibility.temporary_protection_ukraine, "eligible_since": date(2022, 5, 1)})
    assert change(db, ukraine.id, accommodation_since=None).accommodation_since is None


def test_reassignment_moves_the_case_between_caseloads_and_announces_it(db: Database) -> None:
    case = opened(db)
    moved = reassign(db, case.id, "m2")
    assert moved.manager == "m2"
    assert trail(db, case.id)[-1] == ("reassign", "lead-1", "m1 -> m2")
    last = events(db)[-1]
    assert (last.type, last.scope, last.payload) == ("CaseReassigned", "local", {
        "case_id": case.id, "previous_manager": "m1", "manager": "m2", "reassigned_on": clock.today().isoformat()})
    with unit(db) as s:
        old, _ = service.list_cases(s, tenants={STUTTGART}, manager="m1", status=None, after=None, limit=10, actor="m1")
        new, _ = service.list_cases(s, tenants={STUTTGART}, manager="m2", status=None, after=None, limit=10, actor="m2")
    assert (old, [c.id for c in new]) == ([], [case.id])
    with db.session() as s:
        stored = case_of(s, case.id)
    assert not may_see(Principal("m1", frozenset({"manager"}), frozenset({STUTTGART})), stored)
    assert may_see(Principal("m2", frozenset({"manager"}), frozenset({STUTTGART})), stored)


def test_reassignment_refuses_the_same_manager_and_a_closed_case(db: Database) -> None:
    case = opened(db)
    with pytest.raises(InvalidInput, match="already the case's manager"):
        reassign(db, case.id, "m1")
    with unit(db) as s:
        service.close_case(s, case=case_of(s, case.id), reason=CloseReason.moved_away, actor="m1", node=NODE)
    with pytest.raises(Conflict, match="case is closed"):
        reassign(db, case.id, "m2")
    for bad in ("", "   ", "two words", "x" * 256, 7):
        with pytest.raises(ValidationError):
            Reassignment.model_validate({"manager": bad})
