"""The annual figures (submitted once, small cells never leave the node, the state's overview); the proof of use."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Table
from sqlmodel import Session, select

from services.funding import figures, models, proof, service, years
from services.funding.state import figures as state_figures
from services.funding.state import models as state_models
from services.funding.state import service as state_service
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput
from shared.events import Envelope, parse_payload
from shared.events.codes import PositionStatus
from shared.events.funding import KeyFiguresSubmitted, Qualification

STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"
TODAY = date(2027, 1, 20)
FIGURES: dict[str, Any] = {"consultations": 120, "minutes": 5400, "clients": 31,
                           "by_topic": {"work": 40, "housing": None, "language": 0},
                           "by_mode": {"office": 100, "phone": 20},
                           "goals": {"language": {"open": 6, "achieved": None}}}


@pytest.fixture
def municipal(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database([*models.TABLES, *figures.TABLES, *proof.TABLES]).session() as s:
        yield s


@pytest.fixture
def state(database: Callable[[Sequence[Table]], Database]) -> Iterator[Session]:
    with database([*state_models.TABLES, *state_figures.TABLES]).session() as s:
        yield s


@pytest.mark.parametrize(("change", "field"), [
    ({"consultations": 4}, "consultations"), ({"clients": 1}, "clients"),
    ({"by_topic": {"work": 3}}, "by_topic"), ({"goals": {"work": {"open": 2}}}, "goals"),
    ({"by_topic": {"cooking": 7}}, "by_topic"), ({"clients": -1}, "clients"), ({"names": ["x"]}, "names"),
])
def test_small_cells_and_unknown_codes_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        figures.KeyFiguresCreate.model_validate({**FIGURES, **change})
    assert err.value.errors()[0]["loc"][0] == field


def test_the_figures_go_up_once_after_the_year_with_positions_counted_here(municipal: Session) -> None:
    for fte, starts in ((0.5, date(2026, 1, 1)), (1.0, date(2025, 1, 1)), (0.25, date(2027, 2, 1))):
        service.register_position(municipal, tenant=STUTTGART, fte=fte, starts_on=starts,
                                  ends_on=date(starts.year + 2, starts.month, 1), actor="lead", node="node-a")
    municipal.commit()
    body = figures.KeyFiguresCreate.model_validate(FIGURES)
    with pytest.raises(Conflict, match="after the year ends"):
        figures.submit(municipal, tenant=STUTTGART, year=2027, body=body, actor="lead", today=TODAY, node="node-a")
    figures.submit(municipal, tenant=STUTTGART, year=2026, body=body, actor="lead", today=TODAY, node="node-a")
    municipal.commit()
    envs = [Envelope.model_validate_json(r.body) for r in municipal.exec(select(OutboxEvent)).all()]
    sent = parse_payload(envs[-1])
    assert isinstance(sent, KeyFiguresSubmitted) and envs[-1].scope == "up"
    assert (sent.positions, sent.fte, sent.consultations, sent.by_topic["housing"]) == (2, 1.5, 120, None)
    shown = figures.key_figures(municipal, tenant=STUTTGART, year=2026, today=TODAY)
    assert (shown.submitted_on, shown.late, shown.positions) == (TODAY, False, 2)
    with pytest.raises(Conflict):
        figures.submit(municipal, tenant=STUTTGART, year=2026, body=body, actor="lead", today=TODAY, node="node-a")
    assert figures.key_figures(municipal, tenant=STUTTGART, year=2025, today=TODAY).late  # never submitted


def test_the_state_sees_who_submitted_who_is_late_and_the_totals(state: Session) -> None:
    for tenant in (STUTTGART, HEIDELBERG, MANNHEIM):
        state_service.record_position(state, node="n", tenant=tenant, position_id=f"p-{tenant}", fte=1.0,
                                      status=PositionStatus.approved, starts_on=date(2026, 1, 1),
                                      ends_on=date(2027, 12, 31))
    on_time = KeyFiguresSubmitted(year=2026, submitted_on=date(2027, 1, 31), positions=1, fte=1.0, **FIGURES)
    late = KeyFiguresSubmitted(year=2026, submitted_on=date(2027, 2, 1), positions=2, fte=0.75,
                               **{**FIGURES, "clients": None, "by_topic": {"work": 5}})
    assert state_figures.record(state, node="node-a", tenant=STUTTGART, payload=on_time)
    assert state_figures.record(state, node="node-b", tenant=HEIDELBERG, payload=late)
    assert not state_figures.record(state, node="node-b", tenant=HEIDELBERG, payload=late)
    found = state_figures.overview(state, year=2026, today=date(2027, 3, 1))
    assert [(m.tenant, m.submitted_on, m.late) for m in found.municipalities] == [
        (STUTTGART, date(2027, 1, 31), False), (HEIDELBERG, date(2027, 2, 1), True), (MANNHEIM, None, True)]
    t = found.totals
    assert (t["consultations"].value, t["clients"].value, t["clients"].withheld_in) == (240, 31, 1)
    assert (t["by_topic.work"].value, t["by_topic.housing"].value, t["by_topic.housing"].withheld_in) == (45, None, 2)
    assert (t["positions"].value, t["fte"].value) == (3, 1.75)
    assert not state_figures.overview(state, year=2026, today=date(2027, 1, 15)).municipalities[2].late


def test_the_proof_of_use_sets_what_was_paid_out_against_the_grant(municipal: Session) -> None:
    years.store_year(municipal, year=2026, budget_eur=1, rates_eur={Qualification.vocational: 51_000,
                                                                     Qualification.academic: 60_000})
    p = service.register_position(municipal, tenant=STUTTGART, fte=0.5, starts_on=date(2026, 1, 1),
                                  ends_on=date(2027, 6, 30), actor="lead", node="node-a")
    proof.enter_payout(municipal, position=p, year=2026, paid_eur=Decimal("20000.10"), actor="lead")
    proof.enter_payout(municipal, position=p, year=2026, paid_eur=Decimal("25000.50"), actor="lead")  # corrected
    with pytest.raises(InvalidInput) as err:
        proof.enter_payout(municipal, position=p, year=2028, paid_eur=Decimal(1), actor="lead")
    assert err.value.field == "year"
    municipal.commit()
    rows = proof.proof_of_use(municipal, position=p)
    assert [(r.year, r.granted_eur, r.paid_eur, r.unspent_eur) for r in rows] == [
        (2026, 25_500.0, 25_000.5, 499.5), (2027, None, None, None)]
    with pytest.raises(ValidationError):
        proof.PayoutCreate.model_validate({"paid_eur": "1.001"})
