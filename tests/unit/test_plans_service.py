"""The plans domain at municipal level, without a node: plans from case events, goals, versions, closure."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import String, Table
from sqlmodel import Session, SQLModel, col, select

from services.plans import service
from services.plans.models import (
    TABLES,
    Goal,
    GoalChange,
    GoalCreate,
    GoalWritten,
    Plan,
    PlanPublic,
    PlanStatus,
    years_ahead,
)
from services.plans.state import service as state_service
from services.plans.state.models import TABLES as STATE_TABLES
from services.plans.statistics import GoalStatistics
from shared import clock
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, NotFound
from shared.events import STREAMS, Envelope
from shared.events.codes import GoalStatus, Topic

STUTTGART, HEIDELBERG = "08111000", "08221000"
NODE = "node-a"


@pytest.fixture
def db(database: Callable[[Sequence[Table]], Database]) -> Database:
    return database(TABLES)  # with the node's key store (tests/unit/conftest.py)


@contextmanager
def unit(db: Database) -> Iterator[Session]:
    """One unit of work, as a request or a consumed event has: committed once at the end."""
    with db.session() as s:
        yield s
        s.commit()


def opened(db: Database, case_id: str = "case-1", tenant: str = STUTTGART,
           manager: str = "m1") -> Plan:
    with unit(db) as s:
        return service.open_plan(s, case_id=case_id, tenant=tenant, manager=manager)


def plan_of(db: Database, plan_id: str) -> Plan:
    with db.session() as s:
        return service.get_plan(s, plan_id=plan_id)


def goal(db: Database, plan_id: str, area: Topic = Topic.work, title: str = "Ausbildung",
         target_date: date | None = None) -> tuple[Goal, Plan]:
    with unit(db) as s:
        plan = service.get_plan(s, plan_id=plan_id, for_update=True)
        return service.add_goal(s, plan=plan, area=area, title=title, target_date=target_date,
                                actor="m1", node=NODE), plan


def change(db: Database, plan_id: str, goal_id: str, status: GoalStatus) -> tuple[bool, Goal, Plan]:
    with unit(db) as s:
        plan = service.get_plan(s, plan_id=plan_id, for_update=True)
        changed_goal = service.get_goal(s, plan=plan, goal_id=goal_id)
        changed = service.change_goal_status(s, plan=plan, goal=changed_goal, status=status,
                                             node=NODE, actor="m1")
        return changed, changed_goal, plan


def events(db: Database) -> list[Envelope]:
    with db.session() as s:
        rows = s.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))).all()
    assert all(r.stream == STREAMS["plans"] for r in rows)
    return [Envelope.model_validate_json(r.body) for r in rows]


def count(db: Database, table: type[SQLModel]) -> int:
    with db.session() as s:
        return len(s.exec(select(table)).all())


# -- a plan per case --------------------------------------------------------------------------
def test_case_opened_creates_a_draft_plan_at_version_1(db: Database) -> None:
    plan = opened(db)
    assert (plan.case_id, plan.tenant, plan.manager, plan.status, plan.version) == (
        "case-1", STUTTGART, "m1", PlanStatus.draft, 1)
    assert (plan.last_contact_on, plan.closed_on) == (None, None)
    with db.session() as s:
        assert service.find_plan(s, case_id="case-1") == service.get_plan(s, plan_id=plan.id)
    assert events(db) == []  # a plan is born quietly: nothing goes onto the bus


def test_case_opened_again_is_idempotent(db: Database) -> None:
    plan = opened(db)
    assert opened(db, manager="m2").id == plan.id
    # the same case id announced for another tenant keeps the first plan (and only logs)
    assert opened(db, tenant=HEIDELBERG).id == plan.id
    again = plan_of(db, plan.id)
    assert (count(db, Plan), again.manager, again.tenant, again.version) == (1, "m1", STUTTGART, 1)


def test_case_opened_without_a_manager_is_refused(db: Database) -> None:
    with pytest.raises(service.IncompleteEvent, match="names no manager"), unit(db) as s:
        service.open_plan(s, case_id="case-1", tenant=STUTTGART, manager=None)
    assert count(db, Plan) == 0


def test_missing_plans_and_goals_are_not_found(db: Database) -> None:
    plan, other = opened(db), opened(db, case_id="case-2")
    theirs, _ = goal(db, other.id)
    with db.session() as s:
        with pytest.raises(NotFound, match="plan not found"):
            service.get_plan(s, plan_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")
        with pytest.raises(NotFound, match="goal not found"):
            service.get_goal(s, plan=plan, goal_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")
        with pytest.raises(NotFound, match="goal not found"):  # a goal of another plan
            service.get_goal(s, plan=plan, goal_id=theirs.id)
        assert service.get_goal(s, plan=other, goal_id=theirs.id).id == theirs.id
        assert service.find_plan(s, case_id="case-3") is None


# -- goals and plan versions ------------------------------------------------------------------
def test_the_first_goal_activates_the_plan_and_every_goal_moves_its_version(db: Database) -> None:
    plan = opened(db)
    target = date(2030, 6, 30)
    work, written = goal(db, plan.id, Topic.work, "Ausbildung zur Pflegefachkraft", target)
    assert (written.status, written.version) == (PlanStatus.active, 2)
    assert GoalWritten.of(work, written).plan_version == 2
    assert (work.plan_id, work.area, work.status, work.target_date, work.created_by) == (
        plan.id, Topic.work, GoalStatus.open, target, "m1")
    language, _ = goal(db, plan.id, Topic.language, "Deutschkurs B1")
    stored = plan_of(db, plan.id)
    assert (stored.status, stored.version) == (PlanStatus.active, 3)
    with db.session() as s:
        assert [g.id for g in service.goals_of(s, plan_id=plan.id)] == [work.id, language.id]

    first, second = events(db)
    assert (first.type, first.tenant, first.node, first.aggregate_id) == (
        "PlanGoalAdded", STUTTGART, NODE, plan.id)
    assert first.payload == {"plan_id": plan.id, "case_id": "case-1", "goal_id": work.id,
                             "manager": "m1", "area": "work", "target_date": "2030-06-30",
                             "plan_version": 2}
    assert (second.payload["target_date"], second.payload["plan_version"]) == (None, 3)
    assert "Pflegefachkraft" not in first.to_json()  # titles never leave the plans database


def test_status_changes_go_any_way_and_each_moves_the_version(db: Database) -> None:
    plan = opened(db)
    housing, _ = goal(db, plan.id, Topic.housing)
    for version, status in enumerate([GoalStatus.achieved, GoalStatus.open, GoalStatus.dropped,
                                      GoalStatus.in_progress], start=3):
        changed, changed_goal, changed_plan = change(db, plan.id, housing.id, status)
        assert (changed, changed_goal.status, changed_plan.version) == (True, status, version)
    changes = [(e.type, e.payload["area"], e.payload["previous_status"], e.payload["status"],
                e.payload["plan_version"]) for e in events(db)[1:]]
    assert changes == [("PlanGoalStatusChanged", "housing", "open", "achieved", 3),
                       ("PlanGoalStatusChanged", "housing", "achieved", "open", 4),
                       ("PlanGoalStatusChanged", "housing", "open", "dropped", 5),
                       ("PlanGoalStatusChanged", "housing", "dropped", "in_progress", 6)]


def test_the_same_status_again_changes_nothing(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id)
    changed, unchanged, same_plan = change(db, plan.id, work.id, GoalStatus.open)
    assert not changed
    assert (same_plan.version, unchanged.status, unchanged.updated_at) == (
        2, GoalStatus.open, work.updated_at)
    assert (plan_of(db, plan.id).version, len(events(db))) == (2, 1)


def edit(db: Database, plan_id: str, goal_id: str, **changes: object) -> tuple[bool, Goal, Plan]:
    with unit(db) as s:
        plan = service.get_plan(s, plan_id=plan_id, for_update=True)
        edited = service.get_goal(s, plan=plan, goal_id=goal_id)
        changed = service.change_goal(s, plan=plan, goal=edited, node=NODE, actor="m1", **changes)  # type: ignore[arg-type]
        return changed, edited, plan


def test_editing_title_and_target_date_moves_the_version_once_and_announces_only_the_date(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id, target_date=date(2027, 6, 30))
    changed, edited, after = edit(db, plan.id, work.id, title="Ausbildung beginnen")
    assert (changed, after.version) == (True, 3)
    assert [e.type for e in events(db)] == ["PlanGoalAdded"]  # the title never leaves here
    changed, edited, after = edit(db, plan.id, work.id, title="Ausbildung", target_date=date(2028, 1, 31))
    assert (changed, edited.title, edited.target_date, edited.status, after.version) == (
        True, "Ausbildung", date(2028, 1, 31), GoalStatus.open, 4)
    moved = events(db)[-1]
    assert (moved.type, moved.scope, moved.payload) == ("PlanGoalRescheduled", "local", {
        "plan_id": plan.id, "case_id": plan.case_id, "goal_id": work.id, "manager": "m1", "area": "work",
        "status": "open", "target_date": "2028-01-31", "plan_version": 4})
    changed, edited, after = edit(db, plan.id, work.id, target_date=None)  # None clears the date
    assert (changed, edited.title, edited.target_date, after.version) == (True, "Ausbildung", None, 5)
    assert events(db)[-1].payload["target_date"] is None
    changed, _, after = edit(db, plan.id, work.id)  # the date is kept unless given
    assert (changed, after.version, len(events(db))) == (False, 5, 3)


def test_editing_to_the_same_values_changes_nothing(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id, target_date=date(2027, 6, 30))
    changed, same, after = edit(db, plan.id, work.id, title="Ausbildung",
                                target_date=date(2027, 6, 30), status=GoalStatus.open)
    assert (changed, same.updated_at, after.version, len(events(db))) == (
        False, work.updated_at, 2, 1)


def test_a_change_of_title_and_status_is_one_version_and_one_status_event(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id)
    changed, edited, after = edit(db, plan.id, work.id, title="Neu", status=GoalStatus.achieved)
    assert (changed, edited.title, edited.status, after.version) == (
        True, "Neu", GoalStatus.achieved, 3)
    last = events(db)[-1]
    assert (last.type, last.payload["status"], last.payload["plan_version"]) == (
        "PlanGoalStatusChanged", "achieved", 3)
    assert "title" not in last.payload and "Neu" not in last.model_dump_json()


def test_a_closed_plans_goals_cannot_be_edited(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id)
    with unit(db) as s:
        service.close_plan(s, case_id=plan.case_id, tenant=STUTTGART, closed_on=date(2026, 1, 2))
    with pytest.raises(Conflict):
        edit(db, plan.id, work.id, title="Neu")


def test_goal_changes_check_their_fields_and_need_one() -> None:
    body = GoalChange.model_validate({"title": "  Neu  ", "target_date": None})
    assert (body.title, body.target_date, body.model_fields_set) == ("Neu", None, {"title", "target_date"})
    assert GoalChange.model_validate({"status": "achieved"}).model_fields_set == {"status"}
    latest = years_ahead(clock.today(), 10)
    for body_in, field in [({}, None), ({"title": None}, "title"), ({"title": "  "}, "title"),
                           ({"title": "x" * 201}, "title"), ({"status": None}, "status"),
                           ({"target_date": "1999-12-31"}, "target_date"),
                           ({"target_date": date.fromordinal(latest.toordinal() + 1).isoformat()},
                            "target_date"),
                           ({"area": "work"}, "area")]:
        with pytest.raises(ValidationError) as caught:
            GoalChange.model_validate(body_in)
        locs = [e["loc"][0] if e["loc"] else None for e in caught.value.errors()]
        assert locs == [field], (body_in, locs)


# -- the case's life --------------------------------------------------------------------------
def test_consultations_move_the_last_contact_forward_only_and_never_the_version(
        db: Database) -> None:
    plan = opened(db)
    for held_on in (date(2026, 10, 5), date(2026, 9, 1)):
        with unit(db) as s:
            service.record_contact(s, case_id="case-1", tenant=STUTTGART, held_on=held_on)
    stored = plan_of(db, plan.id)
    assert (stored.last_contact_on, stored.version) == (date(2026, 10, 5), 1)


def test_case_events_before_the_plan_or_for_another_tenant_wait(db: Database) -> None:
    with pytest.raises(service.PlanNotYetKnown), unit(db) as s:
        service.record_contact(s, case_id="case-1", tenant=STUTTGART, held_on=clock.today())
    plan = opened(db)
    with pytest.raises(service.PlanNotYetKnown), unit(db) as s:
        service.close_plan(s, case_id="case-1", tenant=HEIDELBERG, closed_on=clock.today())
    with pytest.raises(service.PlanNotYetKnown), unit(db) as s:
        service.record_contact(s, case_id="case-1", tenant=HEIDELBERG, held_on=clock.today())
    stored = plan_of(db, plan.id)
    assert (stored.status, stored.last_contact_on, stored.version) == (PlanStatus.draft, None, 1)


def test_closing_the_case_closes_the_plan_once_and_refuses_goal_writes(db: Database) -> None:
    plan = opened(db)
    work, _ = goal(db, plan.id)
    closed_on = date(2026, 11, 30)
    for day in (closed_on, date(2027, 1, 1)):  # closing a closed plan changes nothing
        with unit(db) as s:
            service.close_plan(s, case_id="case-1", tenant=STUTTGART, closed_on=day)
        closed = plan_of(db, plan.id)
        assert (closed.status, closed.closed_on, closed.version) == (
            PlanStatus.closed, closed_on, 3)

    with pytest.raises(Conflict, match="^plan is closed: the case was closed on 2026-11-30$"):
        goal(db, plan.id, Topic.school, "Schule")
    for status in (GoalStatus.achieved, GoalStatus.open):  # even the no-op is refused
        with pytest.raises(Conflict, match="^plan is closed"):
            change(db, plan.id, work.id, status)
    assert (count(db, Goal), len(events(db)), plan_of(db, plan.id).version) == (1, 1, 3)
    with db.session() as s:  # the goals stay readable as the record of the work done
        shown = PlanPublic.of(closed, service.goals_of(s, plan_id=plan.id))
    assert [(g.id, g.status) for g in shown.goals] == [(work.id, GoalStatus.open)]


# -- tables and schemas -----------------------------------------------------------------------
def test_statuses_and_areas_are_stored_as_plain_strings(db: Database) -> None:
    for column, length in ((Plan.__table__.c.status, 10), (Goal.__table__.c.status, 20),  # type: ignore[attr-defined]
                           (Goal.__table__.c.area, 20)):  # type: ignore[attr-defined]
        assert type(column.type) is String and column.type.length == length, column
    goal(db, opened(db).id, Topic.everyday_life)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM plans_plan").scalar() == "active"
        assert conn.exec_driver_sql("SELECT area, status FROM plans_goal").one() == (
            "everyday_life", "open")


def test_goal_bodies_check_area_title_and_target_date() -> None:
    body = GoalCreate.model_validate({"area": "work", "title": "  Ausbildung  ",
                                      "target_date": "2030-01-31"})
    assert (body.area, body.title, body.target_date) == (Topic.work, "Ausbildung", date(2030, 1, 31))
    latest = years_ahead(clock.today(), 10)
    assert GoalCreate(area=Topic.work, title="x", target_date=latest).target_date == latest
    for field, value in [("area", "cooking"), ("title", "   "), ("title", 42),
                         ("target_date", "1999-12-31"), ("target_date", 20270101),
                         ("target_date", date.fromordinal(latest.toordinal() + 1).isoformat())]:
        with pytest.raises(ValidationError) as caught:
            GoalCreate.model_validate({"area": "work", "title": "x", field: value})
        assert [e["loc"][0] for e in caught.value.errors()] == [field], (field, value)
    assert years_ahead(date(2028, 2, 29), 1) == date(2029, 2, 28)


# -- the lead's figures: the state's counting and suppression, from the plans ----------------
def test_the_leads_goal_figures_count_like_the_state_and_withhold_small_cells(db: Database) -> None:
    plans = [opened(db, case_id=f"case-{i}").id for i in range(6)]
    for plan_id in plans:
        goal(db, plan_id, Topic.work)
    for plan_id in plans[:2]:
        added, _ = goal(db, plan_id, Topic.language)
        change(db, plan_id, added.id, GoalStatus.achieved)
    other = opened(db, case_id="case-h", tenant=HEIDELBERG).id
    for _ in range(3):
        goal(db, other, Topic.housing)
    opened(db, case_id="case-without-goals")

    with unit(db) as s:
        answer = service.goal_statistics(s, tenant=STUTTGART)
    assert (answer.tenant, answer.min_cell, len(answer.cells)) == (STUTTGART, 5, len(Topic) * len(GoalStatus))
    cells = {(c.area, c.status): (c.count, c.suppressed) for c in answer.cells if c.count or c.suppressed}
    assert cells == {(Topic.work, GoalStatus.open): (6, False), (Topic.language, GoalStatus.achieved): (None, True)}
    by_status = {c.status: (c.count, c.suppressed) for c in answer.by_status}
    assert by_status[GoalStatus.open] == (6, False) and by_status[GoalStatus.achieved] == (None, True)
    # 8 = 6 shown + 2 withheld: one withheld part, so the total would give it back
    assert (answer.total.count, answer.total.suppressed) == (None, True)
    # clients are cases with goals: six, not the case without goals nor Heidelberg's
    assert (answer.clients.count, answer.clients.suppressed) == (6, False)
    with unit(db) as s:
        heidelberg = service.goal_statistics(s, tenant=HEIDELBERG)
        nobody = service.goal_statistics(s, tenant="08222000")
    assert (heidelberg.total.count, heidelberg.total.suppressed, heidelberg.clients.suppressed) == (None, True, True)
    assert (nobody.total.count, nobody.clients.count) == (0, 0)


def test_the_leads_goal_figures_equal_the_states_for_the_same_goals(db: Database, tmp_path: Path) -> None:
    state = Database(f"sqlite:///{tmp_path / 'plans-state.db'}", STATE_TABLES)
    SQLModel.metadata.create_all(state.engine, tables=STATE_TABLES)
    areas = [Topic.work, Topic.work, Topic.language, Topic.health, Topic.work, Topic.school, Topic.work]
    statuses = [GoalStatus.open, GoalStatus.in_progress, GoalStatus.achieved, GoalStatus.dropped]
    plans = [opened(db, case_id=f"case-{i}").id for i in range(9)]
    for i in range(20):
        added, _ = goal(db, plans[i % len(plans)], areas[i % len(areas)])
        if i % 3:
            change(db, plans[i % len(plans)], added.id, statuses[i % 4])
    with unit(db) as s:
        municipal = service.goal_statistics(s, tenant=STUTTGART)
        goals = s.exec(select(Goal, Plan).join(Plan, col(Plan.id) == col(Goal.plan_id))).all()
        with state.session() as st:
            for g, p in goals:
                state_service.record_goal(st, node=NODE, tenant=p.tenant, goal_pseudonym=g.id,
                                          case_pseudonym=p.case_id, area=g.area, status=g.status,
                                          plan_version=p.version)
            st.commit()
            table, clients = state_service.goal_statistics(st, tenant=STUTTGART)
    assert municipal == GoalStatistics.of(STUTTGART, table, clients)
    assert municipal.total.count == 20
    state.dispose()
