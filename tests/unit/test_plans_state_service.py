"""The plans domain at state level, without a node: the pseudonymous goal table and its statistics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import String
from sqlmodel import Session, SQLModel, select

from services.plans.state import service
from services.plans.state.models import TABLES, StateGoal
from services.plans.statistics import MIN_CELL, GoalStatistics, cross_table
from shared.db import Database
from shared.events.codes import GoalStatus, Topic

STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"
OPEN, ACTIVE, DONE, DROPPED = (GoalStatus.open, GoalStatus.in_progress, GoalStatus.achieved,
                               GoalStatus.dropped)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    db = Database(f"sqlite:///{tmp_path / 'plans-state.db'}", TABLES)
    SQLModel.metadata.create_all(db.engine, tables=TABLES)
    with db.session() as s:
        yield s
    db.dispose()


def record(session: Session, goal: str, case: str, area: Topic, status: GoalStatus, version: int,
           *, node: str = "node-a", tenant: str = STUTTGART) -> bool:
    recorded = service.record_goal(session, node=node, tenant=tenant, goal_pseudonym=goal,
                                   case_pseudonym=case, area=area, status=status,
                                   plan_version=version)
    session.commit()
    return recorded


def figures(session: Session, tenant: str | None = None) -> GoalStatistics:
    table, clients = service.goal_statistics(session, tenant=tenant)
    return GoalStatistics.of(tenant, table, clients)


# -- the suppression rule ---------------------------------------------------------------------
def test_secondary_suppression_rule() -> None:
    table = cross_table({("a", "x"): 3, ("a", "y"): 10, ("b", "x"): 2, ("b", "y"): 4},
                        ["a", "b"], ["x", "y"])
    assert [(m.count, m.suppressed) for m in table.cells.values()] == [
        (None, True), (10, False), (None, True), (None, True)]
    assert table.row_totals["a"].suppressed      # one withheld cell: 13 - 10 would give it back
    assert table.row_totals["b"].count == 6      # two withheld cells: the total reveals neither
    assert table.column_totals["x"].count == 5
    assert table.column_totals["y"].suppressed   # one withheld cell
    # 19 - 6 would give back the withheld total of row a, and with it the cell a/x
    assert table.total.suppressed
    empty = cross_table({}, ["a"], ["x"])
    assert (empty.total.count, empty.total.suppressed) == (0, False)
    assert cross_table({("a", "x"): 4}, ["a"], ["x"]).total.suppressed


def test_primary_suppression_withholds_one_to_four_and_shows_zero_and_five() -> None:
    counts = {("a", "x"): 0, ("a", "y"): 1, ("b", "x"): MIN_CELL - 1, ("b", "y"): MIN_CELL}
    table = cross_table(counts, ["a", "b"], ["x", "y"])
    assert {k: (m.value, m.count, m.suppressed) for k, m in table.cells.items()} == {
        ("a", "x"): (0, 0, False), ("a", "y"): (1, None, True),
        ("b", "x"): (4, None, True), ("b", "y"): (5, 5, False)}


# -- the goal table ---------------------------------------------------------------------------
def test_newer_plan_versions_win_and_older_events_are_ignored(session: Session) -> None:
    # the change overtook its PlanGoalAdded: the row is created from the change
    assert record(session, "g1", "c1", Topic.school, ACTIVE, 3)
    assert not record(session, "g1", "c1", Topic.school, OPEN, 2)  # the late PlanGoalAdded
    assert record(session, "g1", "c1", Topic.school, DONE, 5)
    assert not record(session, "g1", "c1", Topic.school, DROPPED, 4)  # arrives late
    assert not record(session, "g1", "c1", Topic.school, DONE, 5)  # delivered again
    # the same goal pseudonym from another node is another goal (pseudonyms are per node)
    assert record(session, "g1", "c1", Topic.school, OPEN, 2, node="node-b", tenant=HEIDELBERG)
    rows = {r.node: r for r in session.exec(select(StateGoal)).all()}
    assert {n: (r.tenant, r.area, r.status, r.plan_version) for n, r in rows.items()} == {
        "node-a": (STUTTGART, "school", "achieved", 5), "node-b": (HEIDELBERG, "school", "open", 2)}


def test_goal_events_without_pseudonyms_are_refused(session: Session) -> None:
    for goal, case in (("", "c1"), ("g1", ""), ("g" * 101, "c1"), ("g1", "c" * 101)):
        with pytest.raises(service.NotAPseudonym):
            record(session, goal, case, Topic.work, OPEN, 2)
    assert record(session, "g" * 100, "c" * 100, Topic.work, OPEN, 2)
    assert len(session.exec(select(StateGoal)).all()) == 1


def test_areas_and_statuses_are_stored_as_plain_strings(session: Session) -> None:
    for column in (StateGoal.__table__.c.area, StateGoal.__table__.c.status):  # type: ignore[attr-defined]
        assert type(column.type) is String and column.type.length == 20
    record(session, "g1", "c1", Topic.everyday_life, ACTIVE, 2)
    row = session.connection().exec_driver_sql("SELECT area, status FROM plans_state_goal").one()
    assert tuple(row) == ("everyday_life", "in_progress")


# -- statistics -------------------------------------------------------------------------------
def test_goal_statistics_count_every_cell_and_suppress_small_ones(session: Session) -> None:
    for i in range(6):
        record(session, f"w{i}", f"c{i}", Topic.work, OPEN, 2)
    for i in range(2):
        record(session, f"l{i}", f"c{i}", Topic.language, DONE, 3)
    for i in range(3):
        record(session, f"h{i}", f"d{i}", Topic.housing, OPEN, 2, node="node-b", tenant=HEIDELBERG)

    statewide = figures(session)
    assert (statewide.tenant, statewide.min_cell, len(statewide.cells)) == (
        None, MIN_CELL, len(Topic) * len(GoalStatus))  # every area x status, zeros included
    cells = {(c.area, c.status): (c.count, c.suppressed) for c in statewide.cells
             if c.count or c.suppressed}
    assert cells == {(Topic.work, OPEN): (6, False), (Topic.language, DONE): (None, True),
                     (Topic.housing, OPEN): (None, True)}
    by_area = {a.area: (a.count, a.suppressed) for a in statewide.by_area}
    assert (by_area[Topic.work], by_area[Topic.language], by_area[Topic.school]) == (
        (6, False), (None, True), (0, False))
    by_status = {s.status: (s.count, s.suppressed) for s in statewide.by_status}
    # open: 6 + a withheld 3 (one withheld part) -> withheld; achieved: small itself
    assert by_status == {OPEN: (None, True), ACTIVE: (0, False), DONE: (None, True), DROPPED: (0, False)}
    assert (statewide.total.count, statewide.total.suppressed) == (11, False)
    # clients are (node, case) pairs: c0..c5 on node-a, d0..d2 on node-b
    assert (statewide.clients.count, statewide.clients.suppressed) == (9, False)

    heidelberg = figures(session, HEIDELBERG)
    assert (heidelberg.tenant, heidelberg.total.suppressed, heidelberg.clients.suppressed) == (
        HEIDELBERG, True, True)
    nobody = figures(session, MANNHEIM)
    assert (nobody.total.count, nobody.clients.count) == (0, 0)
    assert all(c.count == 0 and not c.suppressed for c in nobody.cells)
