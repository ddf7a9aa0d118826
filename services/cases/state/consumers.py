"""Subscriptions of the cases service at state level: every node's consultations and case states."""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription, batched
from shared.events import STREAMS, Envelope
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded, CounsellingExtended
from shared.service import ServiceContext

from . import service

GROUP = "cases"


@batched
def on_consultations_recorded(session: Session, run: list[tuple[Envelope, ConsultationRecorded]]) -> None:
    service.note_consultations(session, [
        service.Consultation(env.event_id, env.node, env.tenant, p.case_id, p.held_on, p.mode, p.topics,
                             p.duration_minutes) for env, p in run])


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
        {ConsultationRecorded.event_type: on_consultations_recorded,
         CaseOpened.event_type: on_case_opened,
         CaseClosed.event_type: on_case_closed,
         CounsellingExtended.event_type: on_counselling_extended},
        description="the statewide consultation table and open cases for consultation statistics")]
