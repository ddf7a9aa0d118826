"""Subscriptions of the cases service at state level: every node's consultations and case states."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded, CounsellingExtended
from shared.service import ServiceContext

from . import service

GROUP = "cases"


def on_consultation_recorded(session: Session, env: Envelope, p: ConsultationRecorded) -> None:
    service.note_consultation(session, event_id=env.event_id, node=env.node, tenant=env.tenant,
                              client=p.case_id, held_on=p.held_on, mode=p.mode, topics=p.topics,
                              duration_minutes=p.duration_minutes)


def on_case_opened(session: Session, env: Envelope, p: CaseOpened) -> None:
    service.note_case_opened(session, node=env.node, tenant=env.tenant, client=p.case_id,
                             opened_on=p.opened_on, eligibility=p.eligibility,
                             household_members=sum(p.household_members.values()))


def on_counselling_extended(session: Session, env: Envelope, p: CounsellingExtended) -> None:
    service.note_counselling_extended(session, node=env.node, tenant=env.tenant, client=p.case_id,
                                      extended_on=p.extended_on)


def on_case_closed(session: Session, env: Envelope, p: CaseClosed) -> None:
    service.note_case_closed(session, node=env.node, tenant=env.tenant, client=p.case_id,
                             closed_on=p.closed_on, reason=p.reason)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The state node keeps every node's consultations and case states, as pseudonyms."""
    return [Subscription(
        STREAMS["cases"], GROUP,
        {ConsultationRecorded.event_type: on_consultation_recorded,
         CaseOpened.event_type: on_case_opened,
         CaseClosed.event_type: on_case_closed,
         CounsellingExtended.event_type: on_counselling_extended},
        description="the statewide consultation table and open cases for consultation statistics")]
