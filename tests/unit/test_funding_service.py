"""The funding domain at municipal level (service.py): terms, occupancy, extensions, the state's decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date

import pytest
from sqlalchemy import Table
from sqlmodel import Session, select

from services.funding import service
from services.funding.models import TABLES, FundingExtensionApplication, FundingPosition
from services.funding.service import DecisionOutcome
from services.funding.terms import add_months
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import STREAMS, Envelope
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import ExtensionKind

STUTTGART, HEIDELBERG = "08111000", "08221000"
STARTS, ENDS = date(2026, 1, 1), date(2028, 2, 29)
TODAY = date(2026, 6, 1)


@pytest.fixture
def session(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database(TABLES).session() as s:
        yield s


def position(session: Session, tenant: str = STUTTGART, *, starts_on: date = STARTS,
             ends_on: date = ENDS) -> FundingPosition:
    return service.register_position(session, tenant=tenant, fte=0.5, starts_on=starts_on, ends_on=ends_on,
                                     actor="lead-1", node="node-a")


def apply(session: Session, p: FundingPosition, today: date = TODAY, **kind: object) -> FundingExtensionApplication:
    return service.apply_for_extension(session, position=p, justification="nachbesetzt", actor="lead-1",
                                       today=today, node="node-a", **kind)  # type: ignore[arg-type]


def decide(session: Session, application: FundingExtensionApplication, *, approved: bool, event_id: str = "e1",
           **overrides: str) -> DecisionOutcome:
    values = {"tenant": application.tenant, "application_id": application.id,
              "position_id": application.position_id, **overrides}
    return service.decide_extension(session, approved=approved, decided_on=TODAY, reason="r", event_id=event_id,
                                    **values)


def sent(session: Session) -> list[Envelope]:
    """What the service put into the outbox (committed), in order."""
    session.commit()
    rows = session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()  # type: ignore[arg-type]
    assert {r.stream for r in rows} <= {STREAMS["funding"]}
    return [Envelope.model_validate_json(r.body) for r in rows]


# -- terms ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2025, 1, 31), 1, date(2025, 2, 28)),     # 31st into a short month: clamped
    (date(2024, 1, 31), 1, date(2024, 2, 29)),     # ... in a leap year
    (date(2025, 8, 31), 1, date(2025, 9, 30)),
    (date(2025, 8, 31), 24, date(2027, 8, 31)),    # the extension keeps the day
    (date(2028, 2, 29), 24, date(2030, 2, 28)),    # leap day two years on: clamped
    (date(2025, 12, 15), 1, date(2026, 1, 15)),    # across the year end
    (date(2025, 11, 30), 26, date(2028, 1, 30)),
    (date(2025, 3, 31), -1, date(2025, 2, 28)),    # backwards, clamped
    (date(2026, 1, 31), -13, date(2024, 12, 31)),
    (date(2026, 5, 17), 0, date(2026, 5, 17)),
])
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(("starts_on", "ends_on", "reason"), [
    (STARTS, STARTS, "must be after starts_on"),
    (STARTS, date(2025, 12, 31), "must be after starts_on"),
    (STARTS, date(2031, 1, 2), "must be at most 60 months after starts_on"),
    (STARTS, date(2031, 2, 1), "must be at most 60 months after starts_on"),  # a term of 61 months
])
def test_a_term_ends_after_it_starts_and_lasts_at_most_sixty_months(
        session: Session, starts_on: date, ends_on: date, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        position(session, starts_on=starts_on, ends_on=ends_on)
    assert (err.value.field, err.value.reason) == ("ends_on", reason)
    assert sent(session) == []
    assert session.exec(select(FundingPosition)).all() == []


def test_a_sixty_month_term_and_a_one_day_term_are_accepted(session: Session) -> None:
    service.check_term(starts_on=STARTS, ends_on=date(2031, 1, 1))
    service.check_term(starts_on=STARTS, ends_on=date(2026, 1, 2))


def test_a_registered_position_is_approved_and_announced(session: Session) -> None:
    p = position(session)
    assert (p.tenant, p.fte, p.starts_on, p.ends_on, p.status, p.status_since, p.created_by) == (
        STUTTGART, 0.5, STARTS, ENDS, PositionStatus.approved, None, "lead-1")
    (event,) = sent(session)
    assert (event.type, event.tenant, event.node, event.aggregate_id) == (
        "PositionRegistered", STUTTGART, "node-a", p.id)
    assert event.payload == {"position_id": p.id, "fte": 0.5, "starts_on": "2026-01-01",
                             "ends_on": "2028-02-29", "status": "approved", "qualification": "vocational"}


def test_positions_are_listed_per_tenant_oldest_term_first(session: Session) -> None:
    later = position(session, starts_on=date(2026, 3, 1))
    earlier = position(session, starts_on=date(2026, 2, 1))
    other = position(session, HEIDELBERG)
    assert [p.id for p in service.list_positions(session, tenants={STUTTGART})[0]] == [earlier.id, later.id]
    assert [p.id for p in service.list_positions(session, tenants=[HEIDELBERG])[0]] == [other.id]
    assert service.list_positions(session, tenants=set()) == ([], None)
    with pytest.raises(NotFound, match="position not found"):
        service.get_position(session, position_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")


def test_positions_come_in_pages_in_the_same_order(session: Session) -> None:
    made = [position(session, starts_on=date(2026, 1, day)) for day in (5, 1, 5, 3, 2)]
    position(session, HEIDELBERG)
    expected = [p.id for p in sorted(made, key=lambda p: (p.starts_on, p.id))]
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = service.list_positions(session, tenants={STUTTGART}, after=cursor, limit=2)
        seen += [p.id for p in page]
        pages += 1
        if cursor is None:
            break
    assert (seen, pages) == (expected, 3)
    # a cursor that is not one of this list's positions is refused, naming it
    for cursor in ("01JZZZZZZZZZZZZZZZZZZZZZZZ", service.list_positions(session, tenants={HEIDELBERG})[0][0].id):
        with pytest.raises(InvalidInput) as err:
            service.list_positions(session, tenants={STUTTGART}, after=cursor, limit=2)
        assert (err.value.field, err.value.reason) == ("cursor", "not a cursor of this list")


# -- occupancy --------------------------------------------------------------------------------
def test_occupancy_changes_are_announced_once(session: Session) -> None:
    p = position(session)
    assert service.change_occupancy(session, position=p, occupied=True, since=date(2026, 1, 15), node="node-a")
    assert (p.status, p.status_since) == (PositionStatus.occupied, date(2026, 1, 15))
    # the same occupancy again: no change, no event
    assert not service.change_occupancy(session, position=p, occupied=True, since=date(2026, 2, 1), node="node-a")
    assert p.status_since == date(2026, 1, 15)
    assert service.change_occupancy(session, position=p, occupied=False, since=TODAY, node="node-a")
    assert (p.status, p.status_since) == (PositionStatus.vacant, TODAY)
    assert not service.change_occupancy(session, position=p, occupied=False, since=TODAY, node="node-a")
    events = sent(session)
    assert [e.type for e in events] == ["PositionRegistered", "PositionOccupancyChanged",
                                        "PositionOccupancyChanged"]
    assert [e.payload for e in events[1:]] == [
        {"position_id": p.id, "occupied": True, "since": "2026-01-15", "status": "occupied"},
        {"position_id": p.id, "occupied": False, "since": "2026-06-01", "status": "vacant"}]


@pytest.mark.parametrize(("since", "reason"), [
    (date(2025, 12, 31), "must not be before the position starts (2026-01-01)"),
    (date(2028, 3, 1), "must not be after the position ends (2028-02-29)"),
    (date(2026, 5, 31), "must not be before the last occupancy change (2026-06-01)"),
])
def test_an_occupancy_change_outside_the_term_or_before_the_last_is_refused(
        session: Session, since: date, reason: str) -> None:
    p = position(session)
    service.change_occupancy(session, position=p, occupied=True, since=TODAY, node="node-a")
    with pytest.raises(InvalidInput) as err:
        service.change_occupancy(session, position=p, occupied=False, since=since, node="node-a")
    assert (err.value.field, err.value.reason) == ("since", reason)
    assert p.status == PositionStatus.occupied


def test_the_first_and_last_day_of_the_term_are_valid_occupancy_days(session: Session) -> None:
    p = position(session)
    assert service.change_occupancy(session, position=p, occupied=True, since=STARTS, node="node-a")
    assert service.change_occupancy(session, position=p, occupied=False, since=ENDS, node="node-a")


# -- extension applications -------------------------------------------------------------------
@pytest.mark.parametrize("occupied", [None, True, False])
def test_approved_occupied_and_vacant_positions_can_be_extended(session: Session, occupied: bool | None) -> None:
    p = position(session)
    if occupied is not None:
        service.change_occupancy(session, position=p, occupied=occupied, since=STARTS, node="node-a")
    application = apply(session, p)
    assert (application.tenant, application.position_id, application.status, application.applied_on,
            application.current_ends_on, application.requested_ends_on, application.justification,
            application.applied_by) == (STUTTGART, p.id, ApplicationStatus.submitted, TODAY, ENDS,
                                        date(2030, 2, 28), "nachbesetzt", "lead-1")
    assert (application.kind, application.interruption_from, application.interruption_to) == (
        ExtensionKind.extension_24_months, None, None)
    event = sent(session)[-1]
    assert (event.type, event.aggregate_id) == ("ExtensionApplied", p.id)
    # Since v2 the justification goes up with the application: the officer who decides reads it.
    assert event.payload == {"application_id": application.id, "position_id": p.id, "applied_on": "2026-06-01",
                             "current_ends_on": "2028-02-29", "requested_ends_on": "2030-02-28",
                             "kind": "extension_24_months", "justification": "nachbesetzt",
                             "interruption_from": None, "interruption_to": None}


def test_an_interruption_of_salary_payments_asks_for_12_months(session: Session) -> None:
    p = position(session)
    application = apply(session, p, kind=ExtensionKind.interruption_12_months,
                        interruption_from=date(2026, 2, 1), interruption_to=date(2026, 4, 30))
    assert (application.kind, application.requested_ends_on, application.interruption_from,
            application.interruption_to) == (ExtensionKind.interruption_12_months, date(2029, 2, 28),
                                             date(2026, 2, 1), date(2026, 4, 30))
    event = sent(session)[-1]
    assert {k: event.payload[k] for k in ("kind", "requested_ends_on", "interruption_from", "interruption_to")} == {
        "kind": "interruption_12_months", "requested_ends_on": "2029-02-28",
        "interruption_from": "2026-02-01", "interruption_to": "2026-04-30"}
    assert decide(session, application, approved=True) == DecisionOutcome.approved
    assert p.ends_on == date(2029, 2, 28) == add_months(ENDS, 12)


@pytest.mark.parametrize(("kind", "starts", "ends", "field", "reason"), [
    (ExtensionKind.interruption_12_months, None, date(2026, 4, 30), "interruption_from",
     "required for kind interruption_12_months"),
    (ExtensionKind.interruption_12_months, date(2026, 2, 1), None, "interruption_to",
     "required for kind interruption_12_months"),
    (ExtensionKind.interruption_12_months, date(2026, 4, 30), date(2026, 4, 30), "interruption_to",
     "must be after interruption_from"),
    (ExtensionKind.interruption_12_months, date(2026, 5, 1), date(2026, 4, 30), "interruption_to",
     "must be after interruption_from"),
    (ExtensionKind.interruption_12_months, date(2025, 12, 31), date(2026, 4, 30), "interruption_from",
     "must not be before the position starts (2026-01-01)"),
    (ExtensionKind.interruption_12_months, date(2026, 2, 1), date(2028, 3, 1), "interruption_to",
     "must not be after the position ends (2028-02-29)"),
    (ExtensionKind.extension_24_months, date(2026, 2, 1), None, "interruption_from",
     "only for kind interruption_12_months"),
    (ExtensionKind.extension_24_months, None, date(2026, 2, 1), "interruption_to",
     "only for kind interruption_12_months"),
])
def test_the_interruption_lies_within_the_term_and_only_with_its_kind(
        session: Session, kind: ExtensionKind, starts: date | None, ends: date | None, field: str,
        reason: str) -> None:
    p = position(session)
    with pytest.raises(InvalidInput) as err:
        apply(session, p, kind=kind, interruption_from=starts, interruption_to=ends)
    assert (err.value.field, err.value.reason) == (field, reason)
    assert [e.type for e in sent(session)] == ["PositionRegistered"]
    assert session.exec(select(FundingExtensionApplication)).all() == []


def test_the_first_and_last_day_of_the_term_may_bound_the_interruption(session: Session) -> None:
    application = apply(session, position(session), kind=ExtensionKind.interruption_12_months,
                        interruption_from=STARTS, interruption_to=ENDS)
    assert application.requested_ends_on == add_months(ENDS, 12)


def test_a_position_of_any_other_status_cannot_be_extended(session: Session) -> None:
    p = position(session)
    p.status = "withdrawn"  # type: ignore[assignment]  # a status no extension rule knows
    with pytest.raises(Conflict, match="position is withdrawn; only approved, occupied or re-fillable"):
        apply(session, p)


def test_an_ended_position_cannot_be_extended(session: Session) -> None:
    p = position(session, starts_on=date(2024, 1, 1), ends_on=date(2026, 5, 31))
    with pytest.raises(Conflict, match="position ended on 2026-05-31"):
        apply(session, p)
    assert apply(session, p, today=date(2026, 5, 31)).requested_ends_on == date(2028, 5, 31)  # ends today


def test_one_open_application_per_position(session: Session) -> None:
    p, q = position(session), position(session)
    first = apply(session, p)
    with pytest.raises(Conflict, match=f"position already has open application {first.id}"):
        apply(session, p)
    assert apply(session, q).position_id == q.id  # another position is not held up
    assert service.open_application(session, position_id=p.id) == first
    assert service.open_applications(session, position_ids=[p.id, q.id, "nope"]) == {
        p.id: first.id, q.id: service.list_applications(session, position_id=q.id)[0].id}
    assert service.open_applications(session, position_ids=[]) == {}
    assert [a.id for a in service.list_applications(session, position_id=p.id)] == [first.id]
    with pytest.raises(NotFound, match="extension application not found"):
        service.get_application(session, application_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")


# -- the state's decisions --------------------------------------------------------------------
def test_an_approval_moves_the_end_of_the_term_by_24_months(session: Session) -> None:
    p = position(session)
    application = apply(session, p)
    assert decide(session, application, approved=True) == DecisionOutcome.approved
    assert (application.status, application.decided_on, application.reason, application.decision_event_id) == (
        ApplicationStatus.approved, TODAY, "r", "e1")
    assert p.ends_on == date(2030, 2, 28) == add_months(ENDS, 24)
    assert service.open_application(session, position_id=p.id) is None
    # the extended position can be extended again, from its new end
    again = apply(session, p)
    assert again.requested_ends_on == date(2032, 2, 28)
    assert [a.id for a in service.list_applications(session, position_id=p.id)] == [again.id, application.id]


def test_a_rejection_keeps_the_term_and_allows_a_new_application(session: Session) -> None:
    p = position(session)
    application = apply(session, p)
    assert decide(session, application, approved=False) == DecisionOutcome.rejected
    assert (application.status, p.ends_on) == (ApplicationStatus.rejected, ENDS)
    assert apply(session, p).status == ApplicationStatus.submitted


def test_a_decision_applies_once(session: Session) -> None:
    p = position(session)
    application = apply(session, p)
    assert decide(session, application, approved=True) == DecisionOutcome.approved
    # redelivered, then contradicted: neither changes anything
    assert decide(session, application, approved=True) == DecisionOutcome.already_decided
    assert decide(session, application, approved=False, event_id="e2") == DecisionOutcome.already_decided
    assert (application.status, application.decision_event_id, p.ends_on) == (
        ApplicationStatus.approved, "e1", date(2030, 2, 28))


def test_decisions_that_are_not_ours_change_nothing(session: Session) -> None:
    p = position(session)
    application = apply(session, p)
    stray = [
        (decide(session, application, approved=True, application_id="01JUNKNOWNAPPLICATION00000"),
         DecisionOutcome.unknown_application),
        (decide(session, application, approved=True, tenant=HEIDELBERG), DecisionOutcome.other_tenant),
        (decide(session, application, approved=True, position_id="01JOTHERPOSITION0000000000"),
         DecisionOutcome.other_position),
    ]
    assert [outcome for outcome, _ in stray] == [expected for _, expected in stray]
    assert not any(outcome.applied for outcome, _ in stray)
    assert (application.status, p.ends_on) == (ApplicationStatus.submitted, ENDS)
    assert decide(session, application, approved=True).applied  # the real one still applies
    assert [e.type for e in sent(session)] == ["PositionRegistered", "ExtensionApplied"]  # decisions send nothing
