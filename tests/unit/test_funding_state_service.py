"""The funding domain at state level (state/service.py): the statewide register, applications, decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date

import pytest
from sqlalchemy import Table
from sqlmodel import Session, select

from services.funding.state import service
from services.funding.state.models import TABLES, FundingStateApplication, FundingStatePosition, PositionRegister
from services.funding.terms import add_months
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import ExtensionKind
from shared.federation.keys import down_stream

STUTTGART, HEIDELBERG = "08111000", "08221000"
STARTS, ENDS = date(2026, 1, 1), date(2027, 8, 31)
TODAY = date(2026, 6, 1)


@pytest.fixture
def session(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database(TABLES).session() as s:
        yield s


def registered(session: Session, position_id: str = "p1", *, node: str = "node-a", tenant: str = STUTTGART,
               fte: float = 0.5, ends_on: date = ENDS) -> bool:
    return service.record_position(session, node=node, tenant=tenant, position_id=position_id, fte=fte,
                                   status=PositionStatus.approved, starts_on=STARTS, ends_on=ends_on)


def received(session: Session, application_id: str = "a1", position_id: str = "p1", *, node: str = "node-a",
             tenant: str = STUTTGART, applied_on: date = TODAY, **extra: object) -> bool:
    return service.receive_application(
        session, node=node, tenant=tenant, application_id=application_id, position_id=position_id,
        applied_on=applied_on, current_ends_on=ENDS, requested_ends_on=add_months(ENDS, 24),
        **extra)  # type: ignore[arg-type]


def decide(session: Session, application_id: str = "a1", *, approved: bool,
           reason: str | None = "Haushaltsmittel ausgeschöpft") -> Envelope:
    application = service.get_application(session, application_id=application_id, for_update=True)
    return service.decide(session, application=application, approved=approved, reason=reason, actor="officer-1",
                          today=TODAY, node="state")


def outbox(session: Session) -> list[OutboxEvent]:
    session.commit()
    return list(session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all())  # type: ignore[arg-type]


# -- the register -----------------------------------------------------------------------------
def test_a_registration_is_recorded_once_per_node_and_position(session: Session) -> None:
    assert registered(session)
    assert not registered(session, fte=0.9)  # a second registration of a known position: no change
    assert registered(session, node="node-b", tenant=HEIDELBERG, fte=0.8)  # same id, another node
    a = session.get(FundingStatePosition, ("node-a", "p1"))
    assert a is not None and (a.tenant, a.fte, a.status, a.status_since, a.starts_on, a.ends_on) == (
        STUTTGART, 0.5, PositionStatus.approved, None, STARTS, ENDS)
    assert len(service.register(session, tenant=None)) == 2


def test_occupancy_follows_the_latest_change(session: Session) -> None:
    registered(session)
    kw = {"node": "node-a", "position_id": "p1"}
    assert service.record_occupancy(session, status=PositionStatus.occupied, since=date(2026, 2, 1), **kw)
    assert service.record_occupancy(session, status=PositionStatus.vacant, since=TODAY, **kw)
    # a change older than the recorded one arrives late: ignored
    assert not service.record_occupancy(session, status=PositionStatus.occupied, since=date(2026, 3, 1), **kw)
    p = session.get(FundingStatePosition, ("node-a", "p1"))
    assert p is not None and (p.status, p.status_since) == (PositionStatus.vacant, TODAY)


def test_an_occupancy_change_before_its_registration_is_retried(session: Session) -> None:
    with pytest.raises(service.PositionNotYetKnown):
        service.record_occupancy(session, node="node-b", position_id="p5", status=PositionStatus.occupied,
                                 since=STARTS)
    registered(session, "p5", node="node-b")
    assert service.record_occupancy(session, node="node-b", position_id="p5", status=PositionStatus.occupied,
                                    since=STARTS)


@pytest.mark.parametrize("position_id", ["", "p" * 101])
def test_ids_that_cannot_be_stored_are_malformed(session: Session, position_id: str) -> None:
    with pytest.raises(service.MalformedEvent, match="position_id: must be 1-100 characters"):
        registered(session, position_id)
    with pytest.raises(service.MalformedEvent):
        received(session, "a1", position_id)
    with pytest.raises(service.MalformedEvent, match="application_id"):
        received(session, "a" * 101, "p1")
    assert session.exec(select(FundingStatePosition)).all() == []


def test_the_register_by_tenant_then_oldest_term_with_totals(session: Session) -> None:
    registered(session, "p1", fte=0.5)
    registered(session, "p2", fte=1.0)
    service.record_occupancy(session, node="node-a", position_id="p2", status=PositionStatus.occupied, since=STARTS)
    registered(session, "p3", fte=0.3)
    service.record_occupancy(session, node="node-a", position_id="p3", status=PositionStatus.vacant, since=TODAY)
    registered(session, "p1", node="node-b", tenant=HEIDELBERG, fte=0.8)
    service.record_occupancy(session, node="node-b", position_id="p1", status=PositionStatus.occupied, since=STARTS)
    registered(session, "old", node="node-b", tenant=HEIDELBERG, fte=0.2, ends_on=date(2026, 5, 31))
    positions = service.register(session, tenant=None)
    assert [(p.tenant, p.node, p.position_id) for p in positions] == [
        (STUTTGART, "node-a", "p1"), (STUTTGART, "node-a", "p2"), (STUTTGART, "node-a", "p3"),
        (HEIDELBERG, "node-b", "old"), (HEIDELBERG, "node-b", "p1")]
    assert [p.position_id for p in service.register(session, tenant=HEIDELBERG)] == ["old", "p1"]
    assert service.register(session, tenant="08222000") == []

    register = PositionRegister.of(positions, TODAY)
    assert [p.ended for p in register.items] == [False, False, False, True, False]
    assert [t.model_dump() for t in register.totals] == [  # an ended position is listed, not counted
        {"tenant": STUTTGART, "positions": 3, "total_fte": 1.8, "approved_fte": 0.5, "occupied_fte": 1.0,
         "vacant_fte": 0.3},
        {"tenant": HEIDELBERG, "positions": 1, "total_fte": 0.8, "approved_fte": 0.0, "occupied_fte": 0.8,
         "vacant_fte": 0.0}]


# -- applications -----------------------------------------------------------------------------
def test_an_application_is_received_once(session: Session) -> None:
    registered(session)
    assert received(session)
    assert not received(session)  # the same application again (a new envelope): still one copy
    assert not received(session, node="node-b", tenant=HEIDELBERG)  # the id is taken by node-a
    (application,) = service.applications(session, status=None)
    assert (application.id, application.node, application.tenant, application.position_id, application.status,
            application.applied_on, application.current_ends_on, application.requested_ends_on,
            application.decided_on, application.reason, application.decided_by) == (
        "a1", "node-a", STUTTGART, "p1", ApplicationStatus.submitted, TODAY, ENDS, date(2029, 8, 31),
        None, None, None)
    # an application from before v2: a 24-month extension without a justification
    assert (application.kind, application.justification, application.interruption_from,
            application.interruption_to) == (ExtensionKind.extension_24_months, None, None, None)


def test_the_justification_and_the_interruption_are_kept_for_the_officer(session: Session) -> None:
    received(session, kind=ExtensionKind.interruption_12_months, justification="Elternzeit der Stelleninhaberin",
             interruption_from=date(2026, 2, 1), interruption_to=date(2026, 9, 30))
    application = service.get_application(session, application_id="a1")
    assert (application.kind, application.justification, application.interruption_from,
            application.interruption_to) == (ExtensionKind.interruption_12_months, "Elternzeit der Stelleninhaberin",
                                             date(2026, 2, 1), date(2026, 9, 30))


def test_applications_by_status_oldest_first(session: Session) -> None:
    received(session, "a2", applied_on=TODAY)
    received(session, "a1", "p2", applied_on=TODAY)
    received(session, "a0", "p3", applied_on=date(2026, 5, 1))
    assert [a.id for a in service.applications(session, status=None)] == ["a0", "a1", "a2"]
    decide(session, "a1", approved=False)
    assert [a.id for a in service.applications(session, status=ApplicationStatus.submitted)] == ["a0", "a2"]
    assert [a.id for a in service.applications(session, status=ApplicationStatus.rejected)] == ["a1"]
    assert service.applications(session, status=ApplicationStatus.approved) == []
    with pytest.raises(NotFound, match="extension application not found"):
        service.get_application(session, application_id="nope")


# -- decisions --------------------------------------------------------------------------------
def test_an_approval_moves_the_register_and_goes_down_to_the_applying_node(session: Session) -> None:
    registered(session)
    registered(session, "p2", node="node-b", tenant=HEIDELBERG)
    received(session)
    received(session, "b1", "p2", node="node-b", tenant=HEIDELBERG)
    env = decide(session, approved=True, reason="bewilligt")
    application = session.get(FundingStateApplication, "a1")
    assert application is not None and (application.status, application.decided_on, application.reason,
                                        application.decided_by) == (
        ApplicationStatus.approved, TODAY, "bewilligt", "officer-1")
    ends = {p.position_id: p.ends_on for p in service.register(session, tenant=None)}
    assert ends == {"p1": add_months(ENDS, 24), "p2": ENDS}
    assert (env.type, env.scope, env.target_node, env.tenant, env.node, env.aggregate_id) == (
        "ExtensionDecided", "down", "node-a", STUTTGART, "state", "p1")
    assert env.payload == {"application_id": "a1", "position_id": "p1", "approved": True,
                           "decided_on": "2026-06-01", "reason": "bewilligt", "months": None,
                           "kind": "extension_24_months"}
    (row,) = outbox(session)
    assert (row.event_id, row.stream) == (env.event_id, down_stream("node-a"))


def test_a_rejection_keeps_the_register(session: Session) -> None:
    registered(session)
    received(session)
    env = decide(session, approved=False)
    assert (env.payload["approved"], env.payload["reason"], env.target_node) == (
        False, "Haushaltsmittel ausgeschöpft", "node-a")
    assert [p.ends_on for p in service.register(session, tenant=None)] == [ENDS]


@pytest.mark.parametrize("reason", [None, "", "   \n\t "])
def test_a_rejection_without_a_reason_is_refused(session: Session, reason: str | None) -> None:
    registered(session)
    received(session)
    session.commit()
    with pytest.raises(InvalidInput) as refused:
        decide(session, approved=False, reason=reason)
    assert (refused.value.field, refused.value.reason) == ("reason", "required for a rejection")
    session.rollback()
    assert service.get_application(session, application_id="a1").status == ApplicationStatus.submitted
    assert outbox(session) == []


def test_a_reason_is_trimmed_and_a_blank_one_on_approval_is_none(session: Session) -> None:
    registered(session)
    received(session)
    received(session, "a2", "p1")
    assert decide(session, approved=False, reason="  zu spät beantragt \n").payload["reason"] == "zu spät beantragt"
    assert decide(session, "a2", approved=True, reason="  ").payload["reason"] is None


def test_an_approved_interruption_moves_the_register_by_12_months(session: Session) -> None:
    registered(session)
    received(session, kind=ExtensionKind.interruption_12_months, justification="Krankheit",
             interruption_from=date(2026, 2, 1), interruption_to=date(2026, 3, 31))
    decide(session, approved=True, reason=None)
    assert [p.ends_on for p in service.register(session, tenant=None)] == [add_months(ENDS, 12)]


def test_an_application_is_decided_once(session: Session) -> None:
    registered(session)
    received(session)
    decide(session, approved=True, reason="bewilligt")
    outbox(session)
    with pytest.raises(Conflict, match=f"extension application already approved on {TODAY}"):
        decide(session, approved=False, reason="doch nicht")
    session.rollback()
    application = service.get_application(session, application_id="a1")
    assert (application.status, application.reason) == (ApplicationStatus.approved, "bewilligt")
    assert [p.ends_on for p in service.register(session, tenant=None)] == [add_months(ENDS, 24)]
    assert len(outbox(session)) == 1
    # a late duplicate of the application does not reopen it
    assert not received(session)
    assert service.applications(session, status=ApplicationStatus.submitted) == []


def test_an_approval_for_a_position_missing_from_the_register_is_still_sent(session: Session) -> None:
    received(session)
    env = decide(session, approved=True, reason=None)
    assert env.target_node == "node-a"
    assert service.register(session, tenant=None) == []
    assert [r.stream for r in outbox(session)] == [down_stream("node-a")]
