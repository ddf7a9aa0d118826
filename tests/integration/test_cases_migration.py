"""The casework revisions upgrade a database that already holds cases, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from shared.migrations import history_for, upgrade
from shared.migrations.runner import connected, differences

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
