"""The cases domain at municipal level, without a node: opening, consultations, closing, the audit trail."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Enum, String, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from services.cases import service
from services.cases.deps import may_see
from services.cases.models import (
    TABLES,
    AuditAction,
    AuditEntry,
    Case,
    CaseCreate,
    CaseStatus,
    Consultation,
    ConsultationCreate,
)
from services.cases.state import service as state_service
from services.cases.state.models import TABLES as STATE_TABLES
from shared import clock
from shared.auth import Principal
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import STREAMS, Envelope
from shared.events.codes import CloseReason, Mode, Topic
from tests.unit.conftest import unit

STUTTGART, HEIDELBERG = "08111000", "08221000"
NODE = "node-a"
TODAY = clock.today()
PERSON: dict[str, Any] = {"given_name": "Amina", "family_name": "Haddad", "birth_date": date(1990, 5, 17),
                          "nationality": "SYR", "languages": ["ar", "en"], "household_size": 4,
                          "accommodation_since": date(2023, 2, 1)}


def opened(db: Database, manager: str = "m1", tenant: str = STUTTGART) -> Case:
    with unit(db) as s:
        return service.open_case(s, tenant=tenant, manager=manager, node=NODE, **PERSON)


def case_of(s: Session, case_id: str) -> Case:
    return service.get_case(s, case_id=case_id)


def consult(db: Database, case_id: str, *, held_on: date = TODAY, actor: str = "m1",
            note: str | None = "Bewerbung besprochen") -> Consultation:
    with unit(db) as s:
        return service.record_consultation(
            s, case=case_of(s, case_id), held_on=held_on, duration_minutes=45, mode=Mode.outreach,
            topics=[Topic.work, Topic.language], note=note, actor=actor, node=NODE)


def trail(db: Database, case_id: str) -> list[tuple[str, str, str | None]]:
    with db.session() as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.case_id == case_id)
                      .order_by(col(AuditEntry.id))).all()
        return [(r.action, r.actor, r.detail) for r in rows]


def events(db: Database) -> list[Envelope]:
    with db.session() as s:
        rows = s.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))).all()
    assert {r.stream for r in rows} <= {STREAMS["cases"]}
    return [Envelope.model_validate_json(r.body) for r in rows]


# -- opening, consultations, closing ----------------------------------------------------------
def test_opening_a_case_keeps_the_person_and_announces_only_codes(db: Database) -> None:
    case = opened(db)
    with db.session() as s:
        stored = case_of(s, case.id)
    assert (stored.tenant, stored.manager, stored.status, stored.opened_on) == (
        STUTTGART, "m1", CaseStatus.open, TODAY)
    assert (stored.given_name, stored.closed_on, stored.close_reason) == ("Amina", None, None)
    assert trail(db, case.id) == [("open", "m1", None)]
    [event] = events(db)
    assert (event.type, event.tenant, event.node, event.aggregate_id) == (
        "CaseOpened", STUTTGART, NODE, case.id)
    assert event.payload == {"case_id": case.id, "manager": "m1", "opened_on": TODAY.isoformat(),
                             "household_size": 4, "eligibility": "follow_up_accommodation",
                             "household_members": {}}


def test_case_ids_follow_creation_order(db: Database) -> None:
    ids = [opened(db).id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5  # keyset pagination relies on it


def test_a_consultation_is_recorded_audited_and_announced_without_its_note(db: Database) -> None:
    case = opened(db)
    consultation = consult(db, case.id, held_on=TODAY - timedelta(days=1))
    with db.session() as s:
        stored = s.get(Consultation, consultation.id)
        updated = case_of(s, case.id)
    assert stored is not None and (stored.case_id, stored.recorded_by, stored.note) == (
        case.id, "m1", "Bewerbung besprochen")
    assert updated.updated_at >= case.updated_at
    assert trail(db, case.id)[-1] == ("record_consultation", "m1", consultation.id)
    event = events(db)[-2]  # the first consultation starts the counselling clock: announced last
    assert (event.type, events(db)[-1].type) == ("ConsultationRecorded", "CounsellingPeriodSet")
    assert event.payload == {"case_id": case.id, "consultation_id": consultation.id, "manager": "m1",
                             "held_on": (TODAY - timedelta(days=1)).isoformat(),
                             "duration_minutes": 45, "mode": "outreach", "topics": ["work", "language"]}
    assert "Bewerbung" not in event.to_json()


def test_closing_a_case_and_what_a_closed_case_refuses(db: Database) -> None:
    case = opened(db)
    with unit(db) as s:
        closed = service.close_case(s, case=case_of(s, case.id), reason=CloseReason.independent,
                                    actor="lead-1", node=NODE)
    assert (closed.status, closed.closed_on, closed.close_reason) == (
        CaseStatus.closed, TODAY, "independent")
    assert trail(db, case.id)[-1] == ("close", "lead-1", "independent")
    assert events(db)[-1].payload == {"case_id": case.id, "manager": "m1",
                                      "closed_on": TODAY.isoformat(), "reason": "independent"}
    before = (trail(db, case.id), len(events(db)))
    refusal = re.escape(f"case is closed: closed on {TODAY.isoformat()} (independent)")
    with pytest.raises(Conflict, match=refusal), unit(db) as s:
        service.close_case(s, case=case_of(s, case.id), reason=CloseReason.other, actor="m1",
                           node=NODE)
    with pytest.raises(Conflict, match="case is closed"):
        consult(db, case.id)
    assert (trail(db, case.id), len(events(db))) == before  # a refusal records nothing
    with db.session() as s:
        assert s.exec(select(Consultation)).all() == []


def test_a_missing_case_is_not_found(db: Database) -> None:
    with db.session() as s, pytest.raises(NotFound, match="case not found"):
        service.get_case(s, case_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")


# -- reads are audited ------------------------------------------------------------------------
def test_every_read_is_audited(db: Database) -> None:
    case = opened(db)
    older = consult(db, case.id, held_on=date(2024, 6, 3))
    newer = consult(db, case.id, held_on=TODAY)
    first = consult(db, case.id, held_on=date(2024, 1, 2))
    with unit(db) as s:
        assert service.read_case(s, case=case_of(s, case.id), actor="m1").id == case.id
    with unit(db) as s:
        shown = service.consultations_of(s, case=case_of(s, case.id), actor="lead-1")
    assert [c.id for c in shown] == [first.id, older.id, newer.id]  # in the order they were held
    assert trail(db, case.id)[-2:] == [("read", "m1", None), ("read_consultations", "lead-1", None)]


def test_reading_the_audit_is_recorded_before_it_is_read(db: Database) -> None:
    case, other = opened(db), opened(db)
    with unit(db) as s:
        rows, cursor = service.read_audit(s, case=case_of(s, case.id), actor="lead-1", after=None,
                                          limit=200)
    assert [(r.action, r.actor) for r in rows] == [("open", "m1"), ("read_audit", "lead-1")]
    assert cursor is None and {r.case_id for r in rows} == {case.id}
    with unit(db) as s:
        page, cursor = service.read_audit(s, case=case_of(s, case.id), actor="lead-1", after=None,
                                          limit=2)
    assert len(page) == 2 and cursor == page[-1].id
    with unit(db) as s:
        rest, end = service.read_audit(s, case=case_of(s, case.id), actor="lead-1", after=cursor,
                                       limit=200)
    assert [r.action for r in rest] == ["read_audit", "read_audit"] and end is None
    assert trail(db, other.id) == [("open", "m1", None)]


def test_the_audit_trail_is_append_only_in_the_database(db: Database) -> None:
    case = opened(db)
    for statement in ("UPDATE cases_audit SET actor = 'someone-else'", "DELETE FROM cases_audit"):
        with db.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    assert trail(db, case.id) == [("open", "m1", None)]


# -- listing ----------------------------------------------------------------------------------
def listed(db: Database, *, tenants: set[str], manager: str | None, status: CaseStatus | None = None,
           limit: int = 50, actor: str = "m1") -> list[list[str]]:
    """Every page of the listing, following the cursor."""
    out: list[list[str]] = []
    cursor: str | None = None
    while True:
        with unit(db) as s:
            page, cursor = service.list_cases(s, tenants=tenants, manager=manager, status=status,
                                              after=cursor, limit=limit, actor=actor)
        out.append([c.id for c in page])
        if cursor is None:
            return out


def test_listing_pages_by_keyset_and_filters(db: Database) -> None:
    mine = [opened(db).id for _ in range(5)]
    theirs = [opened(db, "m2").id for _ in range(2)]
    elsewhere = opened(db, "m1", HEIDELBERG).id
    with unit(db) as s:
        service.close_case(s, case=case_of(s, mine[1]), reason=CloseReason.moved_away, actor="m1",
                           node=NODE)
    here = {STUTTGART}
    assert listed(db, tenants=here, manager="m1", limit=2) == [mine[:2], mine[2:4], mine[4:]]
    assert listed(db, tenants=here, manager="m1", limit=5) == [mine]  # a full last page ends it
    assert listed(db, tenants=here, manager="m1", status=CaseStatus.closed) == [[mine[1]]]
    assert listed(db, tenants=here, manager="m1", status=CaseStatus.open, limit=3) == [
        [mine[0], *mine[2:4]], [mine[4]]]
    assert listed(db, tenants=here, manager="m2") == [theirs]
    assert listed(db, tenants=here, manager=None, limit=200) == [sorted(mine + theirs)]
    assert listed(db, tenants={STUTTGART, HEIDELBERG}, manager="m1") == [[*mine, elsewhere]]
    assert listed(db, tenants=set(), manager=None) == [[]]
    assert listed(db, tenants=here, manager="nobody") == [[]]


def test_listing_audits_exactly_the_cases_shown(db: Database) -> None:
    first, second = opened(db).id, opened(db).id
    with unit(db) as s:  # the second case is read only to learn that a next page exists
        page, cursor = service.list_cases(s, tenants={STUTTGART}, manager=None, status=None,
                                          after=None, limit=1, actor="lead-1")
    assert ([c.id for c in page], cursor) == ([first], first)
    assert trail(db, first) == [("open", "m1", None), ("list", "lead-1", None)]
    assert trail(db, second) == [("open", "m1", None)]


# -- codes are enums, stored as plain strings -------------------------------------------------
def test_statuses_and_codes_are_string_columns() -> None:
    for table, column in [("cases_case", "status"), ("cases_case", "close_reason"),
                          ("cases_consultation", "mode"), ("cases_audit", "action")]:
        kind = next(t for t in TABLES if t.name == table).c[column].type
        assert isinstance(kind, String) and not isinstance(kind, Enum), (table, column)
    assert [a.value for a in AuditAction] == ["open", "read", "list", "record_consultation",
                                              "read_consultations", "close", "read_audit",
                                              "extend_counselling", "change", "reassign", "search",
                                              "record_information", "record_consent", "withdraw_consent",
                                              "read_consents", "break_glass", "export", "erase", "handover",
                                              "handover_answered", "handover_accepted"]


# -- who may see a case -----------------------------------------------------------------------
def test_a_lead_sees_the_tenants_cases_a_manager_only_their_own(db: Database) -> None:
    case = opened(db)
    lead = Principal(sub="l1", roles=frozenset({"lead"}), tenants=frozenset({STUTTGART}))
    own = Principal(sub="m1", roles=frozenset({"manager"}), tenants=frozenset({STUTTGART}))
    colleague = Principal(sub="m2", roles=frozenset({"manager"}), tenants=frozenset({STUTTGART}))
    other_tenant = Principal(sub="m1", roles=frozenset({"manager"}), tenants=frozenset({HEIDELBERG}))
    foreign_lead = Principal(sub="l2", roles=frozenset({"lead"}), tenants=frozenset({HEIDELBERG}))
    assert [may_see(p, case) for p in (lead, own, colleague, other_tenant, foreign_lead)] == [
        True, True, False, False, False]


# -- the bodies' rules ------------------------------------------------------------------------
def test_a_case_body_refuses_what_cannot_be_true() -> None:
    body = {**PERSON, "birth_date": "1990-05-17", "accommodation_since": "2023-02-01"}
    assert CaseCreate.model_validate(body).tenant is None
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    for field, value in [("birth_date", tomorrow), ("birth_date", "1900-01-01"),
                         ("birth_date", 19900517), ("accommodation_since", "1990-05-16"),
                         ("languages", ["ar", "ar"]), ("nationality", "syr"), ("tenant", "0811100"),
                         ("given_name", "Ami\nna"), ("household_size", "4")]:
        with pytest.raises(ValidationError) as refused:
            CaseCreate.model_validate({**body, field: value})
        assert refused.value.errors()[0]["loc"][0] == field, (field, value)


def test_a_consultation_body_refuses_what_cannot_be_true() -> None:
    body = {"held_on": TODAY.isoformat(), "duration_minutes": 1, "mode": "office", "topics": ["health"]}
    assert ConsultationCreate.model_validate(body).note is None
    for field, value in [("held_on", "1999-12-31"), ("held_on", 20250101), ("duration_minutes", 601),
                         ("mode", "email"), ("topics", []), ("topics", ["work", "work"])]:
        with pytest.raises(ValidationError) as refused:
            ConsultationCreate.model_validate({**body, field: value})
        assert refused.value.errors()[0]["loc"][0] == field, (field, value)


# -- the lead's figures: the state's counting and suppression, from the case files -----------
def held(db: Database, case_id: str, held_on: str, mode: Mode = Mode.office,
         topics: tuple[Topic, ...] = (Topic.work,), minutes: int = 30, times: int = 1) -> None:
    for _ in range(times):
        with unit(db) as s:
            service.record_consultation(s, case=case_of(s, case_id), held_on=date.fromisoformat(held_on),
                                        duration_minutes=minutes, mode=mode, topics=list(topics),
                                        note="Canary Zzyzx", actor="m1", node=NODE)


def figures(db: Database, tenant: str = STUTTGART, from_: str | None = None,
            to: str | None = None) -> dict[str, Any]:
    with unit(db) as s:
        answer = service.consultation_statistics(
            s, tenant=tenant, from_=date.fromisoformat(from_) if from_ else None,
            to=date.fromisoformat(to) if to else None)
    return answer.model_dump(mode="json", by_alias=True)


def rows(answer: dict[str, Any], name: str) -> dict[str, Any]:
    """The non-zero rows of one breakdown (`by_<name>`): (consultations, minutes), or 'x' when withheld."""
    return {r[name]: "x" if r["suppressed"] else (r["consultations"], r["minutes"])
            for r in answer[f"by_{name}"] if r["suppressed"] or r["consultations"]}


def test_the_leads_figures_count_like_the_state_and_withhold_small_cells(db: Database) -> None:
    a, b, c = (opened(db).id for _ in range(3))
    held(db, a, "2024-03-04", Mode.office, (Topic.work, Topic.language), minutes=60, times=4)
    held(db, b, "2024-03-20", Mode.office, (Topic.work,), minutes=30, times=3)
    held(db, c, "2024-04-02", Mode.phone, (Topic.health,), minutes=10, times=2)
    answer = figures(db)
    assert (answer["tenant"], answer["from"], answer["to"], answer["min_cell"]) == (STUTTGART, None, None, 5)
    assert (answer["consultations"], answer["minutes"], answer["totals_suppressed"]) == (9, 350, False)
    # three case files are three clients: fewer than five, withheld
    assert (answer["distinct_clients"], answer["distinct_clients_suppressed"]) == (None, True)
    assert rows(answer, "topic") == {"work": (7, 330), "language": "x", "health": "x"}
    # phone (2) is small: the smallest shown non-zero mode goes too, or office = total - phone
    assert rows(answer, "mode") == {"office": "x", "phone": "x"}
    assert rows(answer, "month") == {"2024-03": "x", "2024-04": "x"}
    assert [r["topic"] for r in answer["by_topic"]] == [t.value for t in Topic]
    assert [r["mode"] for r in answer["by_mode"]] == [m.value for m in Mode]
    assert answer["open_cases"] == [{"tenant": STUTTGART, "open_cases": None, "suppressed": True}]


def test_the_leads_figures_cover_one_tenant_a_window_and_cases_open_now(db: Database) -> None:
    ours = [opened(db).id for _ in range(6)]
    theirs = opened(db, tenant=HEIDELBERG).id
    for case_id in ours:
        held(db, case_id, "2024-05-31")
        held(db, case_id, "2024-06-01", Mode.video, minutes=20)
    held(db, theirs, "2024-06-01", times=7)
    with unit(db) as s:
        service.close_case(s, case=case_of(s, ours[0]), reason=CloseReason.independent, actor="l1", node=NODE)
    june = figures(db, from_="2024-06-01", to="2024-06-30")
    assert (june["consultations"], june["minutes"], june["distinct_clients"]) == (6, 120, 6)
    assert rows(june, "mode") == {"video": (6, 120)}
    assert june["open_cases"] == [{"tenant": STUTTGART, "open_cases": 5, "suppressed": False}]
    may = figures(db, to="2024-05-31")
    assert (may["consultations"], may["distinct_clients"], may["to"]) == (6, 6, "2024-05-31")
    assert figures(db, from_="2024-07-01")["consultations"] == 0
    heidelberg = figures(db, tenant=HEIDELBERG)
    assert (heidelberg["consultations"], heidelberg["distinct_clients_suppressed"]) == (7, True)
    with pytest.raises(InvalidInput) as refused:
        figures(db, from_="2024-05-01", to="2024-04-30")
    assert (refused.value.field, refused.value.reason) == ("to", "must not be before from")


def test_the_leads_figures_equal_the_states_for_the_same_consultations(db: Database,
                                                                      database: Callable[..., Database]) -> None:
    state = database(STATE_TABLES)
    plan = [(Mode.office, (Topic.work, Topic.language), 45, "2024-01-10", 6),
            (Mode.outreach, (Topic.housing,), 30, "2024-02-11", 5), (Mode.group, (Topic.school,), 90, "2024-02-12", 1),
            (Mode.phone, (Topic.work, Topic.benefits), 15, "2024-03-13", 8)]
    cases = [opened(db).id for _ in range(7)]
    n = 0
    for mode, topics, minutes, day, times in plan:
        for _ in range(times):
            case_id = cases[n % len(cases)]
            n += 1
            held(db, case_id, day, mode, topics, minutes)
            with state.session() as s:
                state_service.note_consultation(
                    s, event_id=f"01J{n:023d}", node=NODE, tenant=STUTTGART,
                    client=hashlib.sha256(case_id.encode()).hexdigest(), held_on=date.fromisoformat(day),
                    mode=mode, topics=list(topics), duration_minutes=minutes)
                state_service.note_case_opened(s, node=NODE, tenant=STUTTGART,
                                               client=hashlib.sha256(case_id.encode()).hexdigest(),
                                               opened_on=TODAY)
                s.commit()
    for window in [(None, None), ("2024-02-01", "2024-03-31"), ("2024-02-12", "2024-02-12")]:
        with state.session() as s:
            statewide = state_service.consultation_statistics(
                s, tenant=STUTTGART, from_=date.fromisoformat(window[0]) if window[0] else None,
                to=date.fromisoformat(window[1]) if window[1] else None).model_dump(mode="json", by_alias=True)
        mine = figures(db, from_=window[0], to=window[1])
        # the household members counselled alongside are the municipality's own figure (the annual figures)
        assert (mine.pop("household_members"), mine.pop("household_members_suppressed")) == (0, False)
        statewide.pop("household_members"), statewide.pop("household_members_suppressed")
        assert mine == statewide, window


def test_reading_the_figures_leaves_no_audit_row_and_no_event(db: Database) -> None:
    case = opened(db)
    held(db, case.id, "2024-01-02")
    before, sent = trail(db, case.id), len(events(db))
    figures(db)
    assert trail(db, case.id) == before and len(events(db)) == sent
