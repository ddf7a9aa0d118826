"""Withdrawals, approvals of fewer months than asked, and the decision letter on the municipal node."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import Table
from sqlmodel import Session, select

from services.funding import letters, models, service, years
from services.funding.state import models as state_models
from services.funding.state import service as state_service
from services.funding.terms import add_months
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from shared.events.codes import ApplicationStatus, PositionStatus
from shared.events.funding import Qualification

STUTTGART = "08111000"
STARTS, ENDS, TODAY = date(2026, 1, 1), date(2027, 12, 31), date(2026, 6, 1)
JUSTIFICATION = "Die Stelle ist besetzt; der Beratungsbedarf hält an."


@pytest.fixture
def municipal(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database(models.TABLES).session() as s:
        yield s


@pytest.fixture
def state(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database(state_models.TABLES).session() as s:
        yield s


def applied(s: Session) -> models.FundingExtensionApplication:
    p = service.register_position(s, tenant=STUTTGART, fte=0.5, qualification=Qualification.academic,
                                  starts_on=STARTS, ends_on=ENDS, actor="lead", node="node-a")
    return service.apply_for_extension(s, position=p, justification=JUSTIFICATION, actor="lead", today=TODAY,
                                       node="node-a")


def received(s: Session) -> state_models.FundingStateApplication:
    state_service.record_position(s, node="node-a", tenant=STUTTGART, position_id="p1", fte=0.5,
                                  status=PositionStatus.approved, starts_on=STARTS, ends_on=ENDS)
    state_service.receive_application(s, node="node-a", tenant=STUTTGART, application_id="a1", position_id="p1",
                                      applied_on=TODAY, current_ends_on=ENDS, requested_ends_on=add_months(ENDS, 24))
    return state_service.get_application(s, application_id="a1")


def outbox(s: Session) -> list[Envelope]:
    s.commit()
    return [Envelope.model_validate_json(r.body) for r in s.exec(select(OutboxEvent)).all()]


def test_a_submitted_application_is_withdrawn_once_and_announced(municipal: Session) -> None:
    application = applied(municipal)
    service.withdraw_application(municipal, application=application, today=TODAY, node="node-a")
    assert (application.status, application.withdrawn_on) == (ApplicationStatus.withdrawn, TODAY)
    assert [e.type for e in outbox(municipal)] == ["PositionRegistered", "ExtensionApplied", "ExtensionWithdrawn"]
    with pytest.raises(Conflict, match="only a submitted one"):
        service.withdraw_application(municipal, application=application, today=TODAY, node="node-a")
    assert len(outbox(municipal)) == 3
    # the position is free for a new application
    position = service.get_position(municipal, position_id=application.position_id)
    assert service.open_application(municipal, position_id=position.id) is None


def test_the_state_refuses_to_decide_a_withdrawn_application(state: Session) -> None:
    application = received(state)
    assert state_service.record_withdrawal(state, node="node-a", application_id="a1", withdrawn_on=TODAY)
    with pytest.raises(Conflict, match="withdrawn on 2026-06-01"):
        state_service.decide(state, application=application, approved=True, reason=None, actor="o", today=TODAY,
                             node="state")
    assert outbox(state) == []
    # a withdrawal after the decision changes nothing: the decision stands
    assert not state_service.record_withdrawal(state, node="node-b", application_id="a1", withdrawn_on=TODAY)


@pytest.mark.parametrize(("approved", "months", "reason", "field"), [
    (False, None, None, "reason"),
    (True, 12, None, "reason"),      # fewer months than asked: say why
    (True, 25, "mehr", "months"),
    (False, 12, "nein", "months"),
])
def test_a_decision_names_what_is_missing(state: Session, approved: bool, months: int | None, reason: str | None,
                                          field: str) -> None:
    application = received(state)
    with pytest.raises(InvalidInput) as err:
        state_service.decide(state, application=application, approved=approved, reason=reason, months=months,
                             actor="o", today=TODAY, node="state")
    assert err.value.field == field
    assert outbox(state) == [] and application.status == ApplicationStatus.submitted


def test_an_approval_of_fewer_months_moves_both_levels_alike(state: Session, municipal: Session) -> None:
    received(state)
    env = state_service.decide(state, application=state_service.get_application(state, application_id="a1"),
                               approved=True, reason="Mittel für 12 Monate", months=12, actor="o", today=TODAY,
                               node="state")
    assert env.payload["months"] == 12
    assert state_service.find_position(state, position_id="p1").ends_on == add_months(ENDS, 12)
    application = applied(municipal)
    service.decide_extension(municipal, tenant=STUTTGART, application_id=application.id,
                             position_id=application.position_id, approved=True, decided_on=TODAY,
                             reason="Mittel für 12 Monate", event_id="e1", months=12)
    assert service.get_position(municipal, position_id=application.position_id).ends_on == add_months(ENDS, 12)
    assert application.granted_months == 12


def test_the_decision_letter_names_the_amounts_and_the_legal_remedy(municipal: Session) -> None:
    years.store_year(municipal, year=2028, budget_eur=1, rates_eur={Qualification.vocational: 51_000,
                                                                     Qualification.academic: 60_000})
    application = applied(municipal)
    with pytest.raises(NotFound):
        letters.get_letter(municipal, application_id=application.id)
    service.decide_extension(municipal, tenant=STUTTGART, application_id=application.id,
                             position_id=application.position_id, approved=True, decided_on=TODAY,
                             reason=None, event_id="e1")
    position = service.get_position(municipal, position_id=application.position_id)
    letters.print_letter(municipal, application=application, position=position)
    municipal.commit()
    pdf = letters.get_letter(municipal, application_id=application.id).pdf
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF")
    for expected in ("bewilligt", "31.12.2029", "30.000,00 €", "60.000,00 €", "Rechtsbehelfsbelehrung",
                     "Verwaltungsgericht", "noch nicht festgesetzt"):
        assert expected in text, expected
