"""State-level tables of the cases service: consultations and case states, pseudonyms only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.events.codes import CloseReason, Eligibility, Mode, Topic
from shared.privacy import (
    AGS_CODE,
    CODE,
    ID,
    NODE_ID,
    PROCESS_DATE,
    PSEUDONYM,
    TIMESTAMP,
    DataClass,
    Retention,
    personal,
)

# No names, no notes, no managers: a case is known only by its node's pseudonym.
PSEUDONYM_PATTERN = r"^[0-9a-f]{64}$"  # HMAC-SHA256 hex under the sending node's key


class StateConsultation(SQLModel, table=True):
    """One consultation as a municipal node reported it, keyed by its event id."""

    __tablename__ = "cases_state_consultation"
    __not_personal__ = {"event_id": ID, "node": NODE_ID, "tenant": AGS_CODE, "held_on": PROCESS_DATE,
                        "month": PROCESS_DATE, "mode": CODE, "received_at": TIMESTAMP}
    __table_args__ = (Index("ix_cases_state_consultation_tenant_held", "tenant", "held_on"),
                      Index("ix_cases_state_consultation_held", "held_on"))

    event_id: str = Field(primary_key=True, max_length=26)  # the envelope's: one row per event
    node: str = Field(max_length=63)  # the municipal node that sent it
    tenant: str = Field(max_length=8)
    client: str = personal(DataClass.pseudonym, PSEUDONYM, Retention.pseudonymous, max_length=64)
    held_on: date
    month: str = Field(max_length=7)  # YYYY-MM of held_on
    mode: Mode = Field(sa_type=String(10))
    duration_minutes: int
    received_at: datetime = Field(default_factory=utcnow)


class StateConsultationTopic(SQLModel, table=True):
    """One topic of a consultation (a consultation counts once in each topic)."""

    __tablename__ = "cases_state_consultation_topic"
    __not_personal__ = {"event_id": ID, "topic": CODE}

    event_id: str = Field(primary_key=True, max_length=26,
                          foreign_key="cases_state_consultation.event_id")
    topic: Topic = Field(primary_key=True, sa_type=String(20))


class StateCase(SQLModel, table=True):
    """Whether a node's case (known by its pseudonym) is open or closed."""

    __tablename__ = "cases_state_case"
    __not_personal__ = {"node": NODE_ID, "tenant": AGS_CODE, "opened_on": PROCESS_DATE, "closed_on": PROCESS_DATE,
                        "close_reason": CODE, "eligibility": CODE, "counselling_extended_on": PROCESS_DATE,
                        "updated_at": TIMESTAMP}
    __table_args__ = (Index("ix_cases_state_case_tenant_open", "tenant", "closed_on"),)

    node: str = Field(primary_key=True, max_length=63)
    client: str = personal(DataClass.pseudonym, PSEUDONYM, Retention.pseudonymous, primary_key=True, max_length=64)
    tenant: str = Field(max_length=8)
    opened_on: date | None = None  # None until CaseOpened is seen
    closed_on: date | None = None
    close_reason: CloseReason | None = Field(default=None, sa_type=String(20))
    eligibility: Eligibility | None = Field(default=None, sa_type=String(30))  # None: opened before it was sent
    household_members: int = 0  # members counselled alongside (the programme counts them apart from cases)
    counselling_extended_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


TABLES = [StateConsultation.__table__, StateConsultationTopic.__table__,  # type: ignore[attr-defined]
          StateCase.__table__]  # type: ignore[attr-defined]
