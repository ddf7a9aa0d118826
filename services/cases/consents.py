"""Consent and information: the information sheet handed over, and the client's consents per purpose.

What needs a consent asks `require_consent` first: without a given, unwithdrawn consent it refuses (409),
naming the consent that is missing. Every record, withdrawal and reading is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy import String
from sqlmodel import Field, Session, SQLModel, col, select

from shared import clock
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import utcnow
from shared.ids import new_id
from shared.privacy import CODE, ID, PROCESS_DATE, TIMESTAMP, DataClass, Retention, personal
from shared.sealing import SealedText, sealed

from .fields import Language, PastDate, _printable
from .models import EARLIEST_CONSULTATION, AuditAction, Case, CaseStatus
from .service import audit

PARTNER_MAX = 200
CONSENT = "proving the client's consent (Art. 6(1)(a), 9(2)(a) GDPR; SGB X §67b)"


class ConsentPurpose(StrEnum):
    """What the client consents to."""

    handover = "handover"  # handing the case over to another municipality when the client moves
    partner_sharing = "partner_sharing"  # sharing case data with a named partner service


class ConsentForm(StrEnum):
    """How the consent was given."""

    written = "written"
    oral = "oral"


@sealed
class InformationSheet(SQLModel, table=True):
    """The data-protection information sheet (Art. 13 GDPR) handed to the client: when, in which language."""

    __tablename__ = "cases_information_sheet"
    __subject__ = "case_id"
    __not_personal__ = {"id": ID, "case_id": ID, "handed_on": PROCESS_DATE, "created_at": TIMESTAMP}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26, foreign_key="cases_case.id")
    handed_on: date
    language: str = personal(DataClass.origin, "informing the client in a language they read", encrypted=True,
                             sa_type=SealedText())
    recorded_by: str = personal(DataClass.staff, CONSENT, Retention.staff, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


@sealed
class Consent(SQLModel, table=True):
    """A consent the client gave for one purpose (with its partner service), and its withdrawal."""

    __tablename__ = "cases_consent"
    __subject__ = "case_id"
    __not_personal__ = {"id": ID, "case_id": ID, "purpose": CODE, "form": CODE, "given_on": PROCESS_DATE,
                        "withdrawn_on": PROCESS_DATE, "created_at": TIMESTAMP, "withdrawn_at": TIMESTAMP}

    id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26, foreign_key="cases_case.id")
    purpose: ConsentPurpose = Field(sa_type=String(20))
    # the partner service the data may go to: with the case, it tells which services the client uses
    partner: str | None = personal(DataClass.case_content, CONSENT, default=None, encrypted=True,
                                   sa_type=SealedText())
    given_on: date
    form: ConsentForm = Field(sa_type=String(10))
    recorded_by: str = personal(DataClass.staff, CONSENT, Retention.staff, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    withdrawn_on: date | None = None
    withdrawn_by: str | None = personal(DataClass.staff, CONSENT, Retention.staff, default=None, max_length=255)
    withdrawn_at: datetime | None = None


TABLES = [InformationSheet.__table__, Consent.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
ProcessDate = Annotated[PastDate, pydantic.Field(ge=EARLIEST_CONSULTATION)]
Partner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PARTNER_MAX),
                    pydantic.Field(strict=True), AfterValidator(_printable)]


class InformationSheetCreate(BaseModel):
    """Body of POST /cases/{id}/information-sheets."""

    model_config = ConfigDict(extra="forbid")

    handed_on: ProcessDate
    language: Language


class InformationSheetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    handed_on: date
    language: str
    recorded_by: str
    created_at: datetime


class ConsentCreate(BaseModel):
    """Body of POST /cases/{id}/consents; `partner` names the service for partner_sharing (only then)."""

    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose
    given_on: ProcessDate
    form: ConsentForm
    partner: Partner | None = None


class ConsentWithdrawal(BaseModel):
    """Body of POST /cases/{id}/consents/{cid}/withdraw: the day the client withdrew (default today)."""

    model_config = ConfigDict(extra="forbid")

    withdrawn_on: ProcessDate | None = None


class ConsentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    purpose: ConsentPurpose
    partner: str | None
    given_on: date
    form: ConsentForm
    recorded_by: str
    created_at: datetime
    withdrawn_on: date | None
    withdrawn_by: str | None
    valid: bool = False  # given and not withdrawn


class ConsentsPublic(BaseModel):
    """A case's information sheets and consents, oldest first."""

    information_sheets: list[InformationSheetPublic]
    consents: list[ConsentPublic]


class ConsentMissing(Conflict):
    """What the caller wants needs a consent the client has not given, or has withdrawn (409)."""


# -- the domain -------------------------------------------------------------------------------
def _open(case: Case) -> None:
    if case.status == CaseStatus.closed:
        raise Conflict(f"case is closed: closed on {case.closed_on} ({case.close_reason})")


def record_information(session: Session, *, case: Case, handed_on: date, language: str,
                       actor: str) -> InformationSheet:
    """Record that the information sheet was handed to the client."""
    _open(case)
    sheet = InformationSheet(id=new_id(), case_id=case.id, handed_on=handed_on, language=language,
                             recorded_by=actor[:255])
    session.add(sheet)
    audit(session, actor=actor, action=AuditAction.record_information, case=case, detail=sheet.id)
    return sheet


def record_consent(session: Session, *, case: Case, purpose: ConsentPurpose, given_on: date,
                   form: ConsentForm, partner: str | None, actor: str) -> Consent:
    """Record a consent the client gave; partner sharing names its partner, a hand-over names none."""
    _open(case)
    if purpose == ConsentPurpose.partner_sharing and not partner:
        raise InvalidInput("partner", "required when purpose is partner_sharing")
    if purpose != ConsentPurpose.partner_sharing and partner:
        raise InvalidInput("partner", f"must be empty when purpose is {purpose}")
    consent = Consent(id=new_id(), case_id=case.id, purpose=purpose, partner=partner, given_on=given_on,
                      form=form, recorded_by=actor[:255])
    session.add(consent)
    audit(session, actor=actor, action=AuditAction.record_consent, case=case, detail=f"{purpose} {consent.id}")
    return consent


def withdraw_consent(session: Session, *, case: Case, consent_id: str, withdrawn_on: date | None,
                     actor: str) -> Consent:
    """Record the client's withdrawal of a consent (also on a closed case); it counts from then on."""
    consent = session.get(Consent, consent_id, with_for_update=True)
    if consent is None or consent.case_id != case.id:
        raise NotFound("consent not found")
    if consent.withdrawn_on is not None:
        raise Conflict(f"consent was already withdrawn on {consent.withdrawn_on.isoformat()}")
    day = withdrawn_on or clock.today()
    if day < consent.given_on:
        raise InvalidInput("withdrawn_on", "must not be before the consent's given_on")
    consent.withdrawn_on, consent.withdrawn_by, consent.withdrawn_at = day, actor[:255], utcnow()
    session.add(consent)
    audit(session, actor=actor, action=AuditAction.withdraw_consent, case=case,
          detail=f"{consent.purpose} {consent.id}")
    return consent


def information_of(session: Session, *, case_id: str) -> list[InformationSheet]:
    return list(session.exec(select(InformationSheet).where(InformationSheet.case_id == case_id)
                             .order_by(col(InformationSheet.handed_on), col(InformationSheet.id))).all())


def consents_of(session: Session, *, case_id: str) -> list[Consent]:
    return list(session.exec(select(Consent).where(Consent.case_id == case_id)
                             .order_by(col(Consent.given_on), col(Consent.id))).all())


def public(consent: Consent) -> ConsentPublic:
    return ConsentPublic.model_validate(consent).model_copy(update={"valid": consent.withdrawn_on is None})


def read_consents(session: Session, *, case: Case, actor: str) -> ConsentsPublic:
    """The case's information sheets and consents, as the actor reads them (audited)."""
    audit(session, actor=actor, action=AuditAction.read_consents, case=case)
    return ConsentsPublic(
        information_sheets=[InformationSheetPublic.model_validate(s) for s in information_of(session, case_id=case.id)],
        consents=[public(c) for c in consents_of(session, case_id=case.id)])


def require_consent(session: Session, *, case: Case, purpose: ConsentPurpose, partner: str | None = None,
                    on: date | None = None) -> Consent:
    """The client's consent for this purpose (and partner) in force on `on`; else ConsentMissing (409)."""
    day = on or clock.today()
    for consent in reversed(consents_of(session, case_id=case.id)):
        if consent.purpose != purpose or consent.given_on > day:
            continue
        if partner is not None and (consent.partner or "").casefold() != partner.casefold():
            continue
        if consent.withdrawn_on is None or consent.withdrawn_on > day:
            return consent
    named = f"{purpose} with {partner}" if partner else str(purpose)
    raise ConsentMissing(f"the client's consent is missing: {named} (none given, or withdrawn)")


def erase(session: Session, *, case_id: str) -> int:
    """Delete the case's information sheets and consents (erasure of the case); how many rows went."""
    rows = [*information_of(session, case_id=case_id), *consents_of(session, case_id=case_id)]
    for row in rows:
        session.delete(row)
    return len(rows)
