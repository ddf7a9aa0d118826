"""The casework revisions upgrade a database that already holds cases, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from services.cases.models import Case, Consultation, SearchEntry
from shared.db import Database
from shared.keystore import KeyStore
from shared.migrations import history_for, upgrade
from shared.migrations.runner import connected, differences
from shared.sealing import seal_backlog

CASE = ("INSERT INTO cases_case (id, tenant, manager, status, given_name, family_name, birth_date, nationality, "
        "languages, household_size, accommodation_since, opened_on, created_at, updated_at) VALUES "
        "(:id, '08111000', 'm1', 'open', 'A', 'B', '1990-01-01', 'SYR', '[]', 2, '2023-02-01', '2024-01-01', "
        "'2024-01-01 00:00:00', '2024-01-01 00:00:00')")
CONSULTATION = ("INSERT INTO cases_consultation (id, case_id, held_on, duration_minutes, mode, topics, recorded_by, "
                "created_at) VALUES (:id, :case, :held, 30, 'office', '[\"work\"]', 'm1', '2024-01-01 00:00:00')")


def at_0002_with_cases(url: str) -> None:
    history = history_for("cases", "municipal")
    with connected(history, url) as conn:
        command.upgrade(history.config(connection=conn), "0002")
        conn.execute(text(CASE), {"id": "01J000000000000000000000AA"})
        conn.execute(text(CASE), {"id": "01J000000000000000000000BB"})
        for n, held in enumerate(("2024-03-01", "2024-02-29", "2024-05-01")):
            conn.execute(text(CONSULTATION), {"id": f"01J00000000000000000000C{n}0", "held": held,
                                              "case": "01J000000000000000000000AA"})


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_cases_opened_before_are_follow_up_accommodation_with_their_clock_set(url: str) -> None:
    at_0002_with_cases(url)
    history = history_for("cases", "municipal")
    upgrade(history, url)
    assert differences(history, url) == []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, eligibility, eligible_since, household_members, first_consultation_on, "
                "counselling_ends_on FROM cases_case ORDER BY id")).all()
    finally:
        engine.dispose()
    shown = [(r[0][-2:], r[1], str(r[2]), r[3] if isinstance(r[3], list) else json.loads(r[3]), str(r[4]), str(r[5]))
             for r in rows]
    assert shown == [("AA", "follow_up_accommodation", "2023-02-01", [], "2024-02-29", "2027-02-28"),
                     ("BB", "follow_up_accommodation", "2023-02-01", [], "None", "None")]


SEARCH = ("INSERT INTO cases_search (at, actor, tenants, term, found) VALUES "
          "('2024-01-02 00:00:00', 'l1', '08111000', 'Plain-Canary', 1)")


def test_fields_written_before_sealing_are_sealed_at_start_and_the_search_log_stays_append_only(
        url: str, tmp_path: Path) -> None:
    at_0002_with_cases(url)
    history = history_for("cases", "municipal")
    with connected(history, url) as conn:
        command.upgrade(history.config(connection=conn), "0006")
        conn.execute(text("UPDATE cases_case SET given_name = 'Plain-Canary', extension_justification = 'Why-Canary' "
                          "WHERE id LIKE '%AA'"))
        conn.execute(text("UPDATE cases_consultation SET note = 'Note-Canary'"))
        conn.execute(text(SEARCH))
    upgrade(history, url)
    assert differences(history, url) == []
    db, keys = Database(url, history.tables), KeyStore(f"sqlite:///{tmp_path / 'keys' / 'subjects.db'}")
    db.keystore = keys
    try:
        assert seal_backlog(db, history.tables) == 2 + 3 + 1  # cases, consultations, the search
        assert seal_backlog(db, history.tables) == 0  # once
        with db.engine.connect() as conn:
            stored = [str(v) for row in conn.execute(text(
                "SELECT given_name, family_name, birth_date, nationality, languages, eligible_since, "
                "accommodation_since, extension_justification FROM cases_case")) for v in row if v is not None]
            stored += [str(v) for (v,) in conn.execute(text("SELECT note FROM cases_consultation"))]
            stored += [str(v) for (v,) in conn.execute(text("SELECT term FROM cases_search"))]
        assert len(stored) == 2 * 7 + 1 + 3 + 1 and all("enc1:" in v for v in stored)
        with db.session() as s:
            case = s.get(Case, "01J000000000000000000000AA")
            assert case is not None
            assert (case.given_name, case.family_name, case.birth_date, case.languages, case.extension_justification) \
                == ("Plain-Canary", "B", date(1990, 1, 1), [], "Why-Canary")
            assert {c.note for c in s.exec(select(Consultation)).all()} == {"Note-Canary"}
            assert [e.term for e in s.exec(select(SearchEntry)).all()] == ["Plain-Canary"]
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE cases_search SET term = 'x'"))
    finally:
        db.dispose()
        keys.dispose()
