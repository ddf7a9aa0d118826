"""Searching cases by name or birth date: only what the caller may see, every search in the search log."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from services.cases import search, service
from services.cases.models import TABLES, SearchEntry
from shared.db import Database
from tests.unit.conftest import unit
from tests.unit.test_cases_service import HEIDELBERG, NODE, PERSON, STUTTGART, events, trail

__all__ = ["TABLES"]  # the db fixture builds these


def person(db: Database, given: str, family: str, born: date, manager: str = "m1", tenant: str = STUTTGART) -> str:
    with unit(db) as s:
        return service.open_case(s, tenant=tenant, manager=manager, node=NODE, **{
            **PERSON, "given_name": given, "family_name": family, "birth_date": born}).id


def find(db: Database, term: str, *, manager: str | None = "m1", tenants: tuple[str, ...] = (STUTTGART,),
         limit: int = 50, after: str | None = None, actor: str = "m1") -> tuple[list[str], str | None]:
    with unit(db) as s:
        page, cursor = search.search_cases(s, term=term, tenants=set(tenants), manager=manager, status=None,
                                           after=after, limit=limit, actor=actor)
        return [c.id for c in page], cursor


def log(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        return [(e.actor, e.tenants, e.term, e.found)
                for e in s.exec(select(SearchEntry).order_by(col(SearchEntry.id))).all()]


@pytest.fixture
def people(db: Database) -> dict[str, str]:
    return {"amina": person(db, "Amina", "Haddad", date(1990, 5, 17)),
            "omar": person(db, "Omar", "Haddad", date(1985, 1, 2)),
            "olena": person(db, "Olena", "Kovalenko", date(1990, 5, 17)),
            "colleague": person(db, "Amir", "Haddad", date(1990, 5, 17), manager="m2"),
            "heidelberg": person(db, "Amina", "Haddad", date(1990, 5, 17), tenant=HEIDELBERG)}


def test_a_name_finds_every_word_in_either_name_ignoring_case(db: Database, people: dict[str, str]) -> None:
    assert find(db, "haddad")[0] == [people["amina"], people["omar"]]
    assert find(db, "AMI hadd")[0] == [people["amina"]]
    assert find(db, "Haddad Kovalenko")[0] == []  # every word must match
    assert find(db, "%")[0] == find(db, "_a")[0] == []  # wildcards are searched as typed


def test_a_birth_date_finds_by_date_in_either_spelling(db: Database, people: dict[str, str]) -> None:
    assert find(db, "1990-05-17")[0] == find(db, "17.05.1990")[0] == [people["amina"], people["olena"]]
    assert find(db, "31.02.1990")[0] == []  # no such date: searched as a name, found nowhere


def test_the_search_stays_within_what_the_caller_may_see(db: Database, people: dict[str, str]) -> None:
    assert find(db, "Haddad", manager=None, actor="lead-1")[0] == [people["amina"], people["omar"], people["colleague"]]
    assert find(db, "Haddad", manager=None, tenants=(STUTTGART, HEIDELBERG), actor="lead-2")[0] == [
        people["amina"], people["omar"], people["colleague"], people["heidelberg"]]
    assert find(db, "Haddad", tenants=())[0] == []


def test_every_search_is_logged_with_its_term_and_each_case_shown_points_to_it(
        db: Database, people: dict[str, str]) -> None:
    before = len(events(db))
    find(db, "Haddad")
    find(db, "Niemand")
    assert log(db) == [("m1", STUTTGART, "Haddad", 2), ("m1", STUTTGART, "Niemand", 0)]
    assert trail(db, people["amina"])[-1] == ("search", "m1", "search 1")
    assert trail(db, people["olena"])[-1] == ("open", "m1", None)  # not shown: not audited
    assert len(events(db)) == before  # a search is never announced
    with db.session() as s, pytest.raises(DBAPIError, match="append-only"):
        s.execute(text("DELETE FROM cases_search"))


def test_the_search_pages_by_keyset(db: Database, people: dict[str, str]) -> None:
    first, cursor = find(db, "Haddad", manager=None, limit=2, actor="lead-1")
    rest, end = find(db, "Haddad", manager=None, limit=2, after=cursor, actor="lead-1")
    assert (first, cursor) == ([people["amina"], people["omar"]], people["omar"])
    assert (rest, end) == ([people["colleague"]], None)
    assert [e[3] for e in log(db)] == [2, 1]
