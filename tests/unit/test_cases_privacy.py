"""The client's data-protection rights in the cases domain: consents and information, break-glass grants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import col, select

from services.cases import break_glass, consents, service
from services.cases.break_glass import BreakGlassRequest, NotAStandIn
from services.cases.consents import ConsentCreate, ConsentForm, ConsentMissing, ConsentPurpose
from services.cases.models import TABLES as CASE_TABLES
from services.cases.models import AuditAction, AuditEntry, Case
from shared import clock
from shared.auth import Principal
from shared.bus import OutboxEvent
from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from shared.events.codes import CloseReason
from tests.unit.conftest import unit
from tests.unit.test_cases_service import NODE, STUTTGART, case_of, opened

TABLES = [*CASE_TABLES, *consents.TABLES, *break_glass.TABLES]
TODAY = clock.today()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOURS = 3.0


def audit_rows(db: Database, case_id: str) -> list[AuditEntry]:
    with unit(db) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(col(AuditEntry.id))).all())


def give(db: Database, case_id: str, purpose: ConsentPurpose = ConsentPurpose.handover, *, partner: str | None = None,
         given_on: date = TODAY) -> consents.Consent:
    with unit(db) as s:
        return consents.record_consent(s, case=case_of(s, case_id), purpose=purpose, given_on=given_on,
                                       form=ConsentForm.written, partner=partner, actor="m1")


# -- consent and information ------------------------------------------------------------------
def test_a_consent_counts_until_it_is_withdrawn_and_its_absence_is_named(db: Database) -> None:
    case_id = opened(db).id
    with unit(db) as s, pytest.raises(ConsentMissing, match="consent is missing: handover"):
        consents.require_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.handover)
    consent = give(db, case_id, given_on=TODAY - timedelta(days=10))
    with unit(db) as s:
        assert consents.require_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.handover).id == consent.id
        with pytest.raises(ConsentMissing, match="partner_sharing with Jobcenter"):
            consents.require_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.partner_sharing,
                                     partner="Jobcenter")
    with unit(db) as s:
        withdrawn = consents.withdraw_consent(s, case=case_of(s, case_id), consent_id=consent.id,
                                              withdrawn_on=TODAY - timedelta(days=2), actor="m1")
    assert (withdrawn.withdrawn_on, withdrawn.withdrawn_by) == (TODAY - timedelta(days=2), "m1")
    with unit(db) as s:
        case = case_of(s, case_id)
        with pytest.raises(ConsentMissing):
            consents.require_consent(s, case=case, purpose=ConsentPurpose.handover)
        # it was in force before the withdrawal
        assert consents.require_consent(s, case=case, purpose=ConsentPurpose.handover, on=TODAY - timedelta(days=5))
        with pytest.raises(Conflict, match="already withdrawn"):
            consents.withdraw_consent(s, case=case, consent_id=consent.id, withdrawn_on=None, actor="m1")
    assert [r.action for r in audit_rows(db, case_id)][-2:] == [AuditAction.record_consent,
                                                                 AuditAction.withdraw_consent]


def test_partner_sharing_names_its_partner_and_a_handover_names_none(db: Database) -> None:
    case_id = opened(db).id
    with unit(db) as s, pytest.raises(InvalidInput) as missing:
        consents.record_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.partner_sharing,
                                given_on=TODAY, form=ConsentForm.oral, partner=None, actor="m1")
    assert (missing.value.field, missing.value.reason) == ("partner", "required when purpose is partner_sharing")
    with unit(db) as s, pytest.raises(InvalidInput, match="partner: must be empty when purpose is handover"):
        consents.record_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.handover, given_on=TODAY,
                                form=ConsentForm.oral, partner="Jobcenter", actor="m1")
    give(db, case_id, ConsentPurpose.partner_sharing, partner="Jobcenter Stuttgart")
    with unit(db) as s:
        case = case_of(s, case_id)
        assert consents.require_consent(s, case=case, purpose=ConsentPurpose.partner_sharing,
                                        partner="jobcenter stuttgart")
        with pytest.raises(ConsentMissing, match="Sprachschule"):
            consents.require_consent(s, case=case, purpose=ConsentPurpose.partner_sharing, partner="Sprachschule")
    with pytest.raises(ValidationError) as bad:
        ConsentCreate.model_validate({"purpose": "marketing", "given_on": (TODAY + timedelta(days=1)).isoformat(),
                                      "form": "telepathic", "partner": "a\x00b"})
    assert {e["loc"][0] for e in bad.value.errors()} == {"purpose", "given_on", "form", "partner"}


def test_information_sheets_and_consents_read_back_audited_and_a_foreign_consent_is_missing(db: Database) -> None:
    case_id, other_id = opened(db).id, opened(db).id
    with unit(db) as s:
        consents.record_information(s, case=case_of(s, case_id), handed_on=TODAY, language="ar", actor="m1")
    consent = give(db, other_id)
    with unit(db) as s:
        read = consents.read_consents(s, case=case_of(s, case_id), actor="m1")
        with pytest.raises(NotFound):
            consents.withdraw_consent(s, case=case_of(s, case_id), consent_id=consent.id, withdrawn_on=None,
                                      actor="m1")
    assert [(i.language, i.handed_on) for i in read.information_sheets] == [("ar", TODAY)] and read.consents == []
    assert [r.action for r in audit_rows(db, case_id)][-2:] == [AuditAction.record_information,
                                                                 AuditAction.read_consents]


def test_a_closed_case_takes_no_new_consent_but_a_withdrawal(db: Database) -> None:
    case_id = opened(db).id
    consent = give(db, case_id)
    with unit(db) as s:
        service.close_case(s, case=case_of(s, case_id), reason=CloseReason.moved_away, actor="m1", node=NODE)
    with unit(db) as s, pytest.raises(Conflict, match="case is closed"):
        consents.record_consent(s, case=case_of(s, case_id), purpose=ConsentPurpose.handover, given_on=TODAY,
                                form=ConsentForm.written, partner=None, actor="m1")
    with unit(db) as s:
        assert consents.withdraw_consent(s, case=case_of(s, case_id), consent_id=consent.id, withdrawn_on=None,
                                         actor="m1").withdrawn_on == TODAY


# -- break-glass ------------------------------------------------------------------------------
def stand_in(sub: str = "m2", tenant: str = STUTTGART) -> Principal:
    return Principal(sub=sub, roles=frozenset({"manager"}), tenants=frozenset({tenant}))


def test_a_grant_admits_the_stand_in_for_its_window_only_and_marks_every_access(db: Database) -> None:
    case_id = opened(db).id
    with unit(db) as s:
        assert not break_glass.admits(s, stand_in(), case_of(s, case_id), now=NOW)
        grant = break_glass.open_grant(s, case=case_of(s, case_id), manager="m2", reason="Kollegin krank, Termin heute",
                                       hours=HOURS, node=NODE, now=NOW)
    assert grant.until == NOW + timedelta(hours=3)
    with unit(db) as s:
        case = case_of(s, case_id)
        assert break_glass.admits(s, stand_in(), case, now=NOW + timedelta(hours=2, minutes=59))
        service.read_case(s, case=case, actor="m2")
    with unit(db) as s:
        case = case_of(s, case_id)
        assert not break_glass.admits(s, stand_in(), case, now=NOW + timedelta(hours=3))  # the window has ended
        assert not break_glass.admits(s, stand_in("m3"), case, now=NOW + timedelta(hours=1))  # someone else's grant
        assert not break_glass.admits(s, stand_in(tenant="08221000"), case, now=NOW + timedelta(hours=1))
        service.read_case(s, case=case, actor="m1")  # the case's own manager: not break-glass
    rows = [(r.actor, r.action, r.break_glass) for r in audit_rows(db, case_id)]
    assert rows == [("m1", AuditAction.open, None), ("m2", AuditAction.break_glass, grant.id),
                    ("m2", AuditAction.read, grant.id), ("m1", AuditAction.read, None)]


def test_the_lead_is_told_who_opened_which_case_until_when_but_never_the_reason(db: Database) -> None:
    case_id = opened(db).id
    with unit(db) as s:
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m2", reason="Vertretung wegen Urlaub Canary",
                               hours=HOURS, node=NODE, now=NOW)
    with unit(db) as s:  # the outbox is written at commit
        bodies = [o.body for o in s.exec(select(OutboxEvent)).all()]
    (env,) = [e for e in map(Envelope.model_validate_json, bodies) if e.type == "BreakGlassOpened"]
    assert env.tenant == STUTTGART and env.aggregate_id == case_id
    assert env.payload == {"case_id": case_id, "manager": "m2", "until": "2026-03-02T12:00:00Z"}
    assert not any("Canary" in b for b in bodies)


def test_a_grant_is_refused_for_the_own_case_a_closed_case_and_while_one_runs(db: Database) -> None:
    case_id = opened(db).id
    with unit(db) as s, pytest.raises(NotAStandIn, match="own caseload"):
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m1", reason="x" * 10, hours=HOURS, node=NODE)
    with unit(db) as s:
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m2", reason="x" * 10, hours=HOURS, node=NODE,
                               now=NOW)
    with unit(db) as s, pytest.raises(NotAStandIn, match="already have access"):
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m2", reason="x" * 10, hours=HOURS, node=NODE,
                               now=NOW + timedelta(hours=1))
    with unit(db) as s:  # after the window a new grant, with a new reason, is possible
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m2", reason="y" * 10, hours=HOURS, node=NODE,
                               now=NOW + timedelta(hours=4))
        service.close_case(s, case=case_of(s, case_id), reason=CloseReason.independent, actor="m1", node=NODE)
    with unit(db) as s, pytest.raises(NotAStandIn, match="closed"):
        break_glass.open_grant(s, case=case_of(s, case_id), manager="m3", reason="z" * 10, hours=HOURS, node=NODE)
    with unit(db) as s:
        assert [g.reason for g in break_glass.grants_of(s, case_id=case_id)] == ["x" * 10, "y" * 10]
        assert s.get(Case, case_id) is not None
    for body in ({}, {"reason": "   kurz   "}, {"reason": 12345678901}, {"reason": "x" * 501}):
        with pytest.raises(ValidationError) as bad:
            BreakGlassRequest.model_validate(body)
        assert bad.value.errors()[0]["loc"] == ("reason",)


def test_erasing_a_case_removes_its_consents_sheets_and_grants_and_nothing_of_another(db: Database) -> None:
    case_id, other_id = opened(db).id, opened(db).id
    for cid in (case_id, other_id):
        give(db, cid, ConsentPurpose.partner_sharing, partner="Jobcenter Canary")
        with unit(db) as s:
            consents.record_information(s, case=case_of(s, cid), handed_on=TODAY, language="ar", actor="m1")
            break_glass.open_grant(s, case=case_of(s, cid), manager="m2", reason="Canary reason", hours=HOURS,
                                   node=NODE, now=NOW)
    with unit(db) as s:
        assert consents.erase(s, case_id=case_id) == 2 and break_glass.erase(s, case_id=case_id) == 1
    with unit(db) as s:
        assert consents.read_consents(s, case=case_of(s, case_id), actor="l1").consents == []
        assert break_glass.grants_of(s, case_id=case_id) == []
        assert len(consents.consents_of(s, case_id=other_id)) == len(break_glass.grants_of(s, case_id=other_id)) == 1
