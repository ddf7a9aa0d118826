"""The plan as an agreement, without a node: steps and referrals, agreed versions as snapshots, reviews."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import select

from services.plans import agreements, service, steps
from services.plans.models import TABLES, AuditEntry, Goal, Plan
from services.plans.schemas import AgreementCreate, StepChange, StepCreate
from services.plans.state import service as state_service
from shared import clock
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events.codes import Topic
from shared.events.plans import PartnerType, StepActor, StepStatus
from tests.unit.conftest import unit
from tests.unit.test_plans_service import NODE, STUTTGART, events, opened

__all__ = ["TABLES"]  # the tables the `db` fixture makes
TODAY = clock.today()


def a_goal(db: Database, plan: Plan, title: str = "Deutschkurs B1") -> Goal:
    with unit(db) as s:
        locked = service.get_plan(s, plan_id=plan.id, for_update=True)
        return service.add_goal(s, plan=locked, area=Topic.language, title=title, target_date=None,
                                actor="m1", node=NODE)


def a_step(db: Database, plan: Plan, goal: Goal, **body: Any) -> Any:
    fields = {"what": "Anmeldung beim Kursträger", "who": StepActor.client, **body}
    with unit(db) as s:
        locked = service.get_plan(s, plan_id=plan.id, for_update=True)
        return steps.add_step(s, plan=locked, goal=goal, partner_type=fields.pop("partner_type", None),
                              due_on=fields.pop("due_on", None), status=fields.pop("status", None),
                              actor="m1", node=NODE, **fields)


def change(db: Database, plan: Plan, goal: Goal, step_id: str, **changes: Any) -> bool:
    with unit(db) as s:
        locked = service.get_plan(s, plan_id=plan.id, for_update=True)
        step = steps.get_step(s, goal=goal, step_id=step_id)
        return steps.change_step(s, plan=locked, goal=goal, step=step, actor="m1", node=NODE, **changes)


def agree(db: Database, plan: Plan, on: date = TODAY, review_on: date | None = None) -> Any:
    with unit(db) as s:
        locked = service.get_plan(s, plan_id=plan.id, for_update=True)
        return agreements.agree(s, plan=locked, agreed_on=on, language="ar", signed_on_paper=True,
                                review_on=review_on, actor="m1", node=NODE)


def current(db: Database, plan: Plan) -> Plan:
    with db.session() as s:
        return service.get_plan(s, plan_id=plan.id)


def test_steps_and_referrals_under_a_goal(db: Database) -> None:
    plan = opened(db)
    goal = a_goal(db, plan)
    own = a_step(db, plan, goal, due_on=TODAY + timedelta(days=7))
    assert (own.who, own.status, own.partner_type) == ("client", "open", None)
    referral = a_step(db, plan, goal, what="Termin beim Jobcenter", who=StepActor.partner,
                      partner_type=PartnerType.jobcenter)
    assert referral.status == StepStatus.referred
    assert change(db, plan, goal, referral.id, status=StepStatus.accepted)
    assert not change(db, plan, goal, referral.id, status=StepStatus.accepted)  # the same again: nothing
    with pytest.raises(InvalidInput, match="status"):
        change(db, plan, goal, own.id, status=StepStatus.referred)  # the client's step is open or done
    assert change(db, plan, goal, own.id, what="Anmeldung erledigt", status=StepStatus.done)
    with db.session() as s:
        [shown] = steps.steps_of(s, goal_ids=[goal.id]).values()
        assert [(x.what, x.status) for x in shown] == [("Anmeldung erledigt", "done"),
                                                       ("Termin beim Jobcenter", "accepted")]
        with pytest.raises(NotFound):
            steps.get_step(s, goal=Goal(id="other", plan_id=plan.id, area="work", title="x", status="open",
                                        created_by="m1"), step_id=own.id)
    # only referrals go onto the bus: partner type and status, never the step's text
    referrals = [e for e in events(db) if e.type == "PlanReferralChanged"]
    assert [(e.payload["partner_type"], e.payload["status"]) for e in referrals] == [
        ("jobcenter", "referred"), ("jobcenter", "accepted")]
    assert all("Jobcenter" not in e.model_dump_json() and "what" not in e.payload for e in referrals)
    assert referrals[0].scope == "up" and referrals[0].payload["step_id"] == referral.id


def test_step_bodies_are_checked_field_by_field() -> None:
    ok = {"what": "Bewerbung schreiben", "who": "manager"}
    assert StepCreate.model_validate(ok).status is None
    for body in ({**ok, "who": "partner"}, {**ok, "partner_type": "jobcenter"},
                 {**ok, "who": "partner", "partner_type": "Caritas"}, {**ok, "status": "accepted"},
                 {**ok, "what": " "}, {**ok, "what": "x" * 301}, {**ok, "due_on": "1999-01-01"}):
        with pytest.raises(ValidationError):
            StepCreate.model_validate(body)
    for body in ({}, {"what": None}, {"status": None}, {"who": "client"}):
        with pytest.raises(ValidationError):
            StepChange.model_validate(body)
    for body in ({"agreed_on": (TODAY + timedelta(days=1)).isoformat(), "language": "ar", "signed_on_paper": True},
                 {"agreed_on": TODAY.isoformat(), "language": "Arabic", "signed_on_paper": True},
                 {"agreed_on": TODAY.isoformat(), "language": "ar", "signed_on_paper": "yes"}):
        with pytest.raises(ValidationError):
            AgreementCreate.model_validate(body)


def test_an_agreement_snapshots_the_version_and_a_change_opens_a_new_draft(db: Database) -> None:
    plan = opened(db)
    with pytest.raises(Conflict, match="no goals"):
        agree(db, plan)
    goal = a_goal(db, plan)
    step = a_step(db, plan, goal)
    first = agree(db, plan)
    after = current(db, plan)
    assert (first.number, after.agreement_version, after.agreed_version, after.review_on) == (
        1, 1, 1, agreements.months_later(TODAY, 6))
    # six months on; 31 August becomes the end of February
    assert agreements.months_later(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert agreements.months_later(date(2027, 8, 31), 6) == date(2028, 2, 29)
    with pytest.raises(Conflict, match="already agreed"):
        agree(db, plan)
    change(db, plan, goal, step.id, what="Kurs gefunden")
    after = current(db, plan)
    assert (after.agreement_version, after.agreed_version) == (2, 1)
    change(db, plan, goal, step.id, status=StepStatus.done)  # still the same draft
    assert current(db, plan).agreement_version == 2
    now = current(db, plan)
    with unit(db) as s:
        history = agreements.versions(s, plan=now, actor="m1")
        assert [(v.number, v.status) for v in history] == [(1, "agreed"), (2, "draft")]
        assert history[0].agreement is not None and history[0].agreement.language == "ar"
        one = agreements.version(s, plan=now, number=1, actor="m1")
        two = agreements.version(s, plan=now, number=2, actor="m1")
        assert one.goals[0].steps[0].what == "Anmeldung beim Kursträger" and one.goals[0].steps[0].status == "open"
        assert two.goals[0].steps[0].what == "Kurs gefunden" and two.status == "draft"
        with pytest.raises(NotFound):
            agreements.version(s, plan=now, number=3, actor="m1")
    second = agree(db, plan, review_on=TODAY + timedelta(days=30))
    assert second.number == 2 and current(db, plan).review_on == TODAY + timedelta(days=30)
    scheduled = [e.payload for e in events(db) if e.type == "PlanReviewScheduled"]
    assert [p["review_on"] for p in scheduled] == [agreements.months_later(TODAY, 6).isoformat(),
                                                   (TODAY + timedelta(days=30)).isoformat()]
    assert all(p["manager"] == "m1" and p["case_id"] == plan.case_id for p in scheduled)
    with db.session() as s:
        assert {a.action for a in s.exec(select(AuditEntry)).all()} >= {
            "agree", "add_step", "change_step", "read_versions", "read_version"}


def test_a_review_sets_the_next_date_only_after_an_agreement(db: Database) -> None:
    plan = opened(db)
    a_goal(db, plan)
    with unit(db) as s, pytest.raises(Conflict, match="not been agreed"):
        agreements.record_review(s, plan=service.get_plan(s, plan_id=plan.id), reviewed_on=TODAY,
                                 next_review_on=None, actor="m1", node=NODE)
    with pytest.raises(InvalidInput, match="agreed_on"):
        agree(db, plan, on=TODAY - timedelta(days=200))  # before the plan was made
    agree(db, plan)
    with unit(db) as s:
        agreements.record_review(s, plan=service.get_plan(s, plan_id=plan.id, for_update=True),
                                 reviewed_on=date(2026, 1, 15), next_review_on=None, actor="m1", node=NODE)
    assert current(db, plan).review_on == date(2026, 7, 15)
    with unit(db) as s, pytest.raises(InvalidInput, match="next_review_on"):
        agreements.record_review(s, plan=service.get_plan(s, plan_id=plan.id, for_update=True),
                                 reviewed_on=TODAY, next_review_on=TODAY, actor="m1", node=NODE)
    assert current(db, plan).agreed_version == current(db, plan).agreement_version  # not a content change


def test_a_reassigned_case_takes_its_plan_along(db: Database) -> None:
    plan = opened(db)
    with unit(db) as s:
        service.reassign_plan(s, case_id=plan.case_id, tenant=STUTTGART, manager="m2")
    assert current(db, plan).manager == "m2"


def test_the_state_counts_referrals_by_partner_type_newest_first_and_suppressed(
        database: Any) -> None:
    from services.plans.state.models import TABLES as STATE_TABLES
    db = database(STATE_TABLES)
    for n in range(6):
        with unit(db) as s:
            state_service.record_referral(s, node="n1", tenant=STUTTGART, step_pseudonym=f"s{n}",
                                          case_pseudonym=f"c{n}", area=Topic.work,
                                          partner_type=PartnerType.jobcenter, status=StepStatus.referred,
                                          plan_version=2)
    with unit(db) as s:
        assert state_service.record_referral(s, node="n1", tenant=STUTTGART, step_pseudonym="s0",
                                             case_pseudonym="c0", area=Topic.work,
                                             partner_type=PartnerType.jobcenter, status=StepStatus.accepted,
                                             plan_version=3)
        assert not state_service.record_referral(s, node="n1", tenant=STUTTGART, step_pseudonym="s0",
                                                 case_pseudonym="c0", area=Topic.work,
                                                 partner_type=PartnerType.jobcenter,
                                                 status=StepStatus.declined, plan_version=1)
    with db.session() as s:
        table, clients = state_service.referral_statistics(s, tenant=None)
    referred = table.cells[PartnerType.jobcenter, StepStatus.referred]
    accepted = table.cells[PartnerType.jobcenter, StepStatus.accepted]
    assert (referred.count, accepted.count, accepted.suppressed) == (5, None, True)
    # the row total would give the withheld cell back (6 - 5): it is withheld too
    assert table.row_totals[PartnerType.jobcenter].suppressed and clients.count == 6


def test_the_leads_referral_figures_count_as_the_state_does(db: Database) -> None:
    for n in range(6):
        plan = opened(db, case_id=f"case-{n}")
        goal = a_goal(db, plan)
        a_step(db, plan, goal, what="Termin", who=StepActor.partner, partner_type=PartnerType.jobcenter)
        a_step(db, plan, goal, what="Selbst anrufen")  # not a referral
    other = opened(db, case_id="case-x", tenant="08221000")
    a_step(db, other, a_goal(db, other), what="Termin", who=StepActor.partner, partner_type=PartnerType.school)
    with db.session() as s:
        figures = steps.referral_statistics(s, tenant=STUTTGART)
    cells = {(c.partner_type, c.status): c.count for c in figures.cells}
    assert cells[PartnerType.jobcenter, StepStatus.referred] == 6
    assert cells[PartnerType.school, StepStatus.referred] == 0  # another municipality's
    assert (figures.total.count, figures.clients.count) == (6, 6)
