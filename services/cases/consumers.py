"""Subscriptions of the cases service at municipal level: hand-overs from and to other municipalities.

Case files change only through the API and the retention run; what arrives here is the state's node
directory, cases another node handed over to this one (sealed), and the answers to this node's hand-overs.
"""

from __future__ import annotations

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.handover import CaseHandedOver, HandoverAnswered, NodeDirectory
from shared.service import ServiceContext

from . import handover

GROUP = "cases"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    settings = ctx.settings

    def on_directory(session: Session, env: Envelope, p: NodeDirectory) -> None:
        handover.store_directory(session, p.nodes)

    def on_parcel(session: Session, env: Envelope, p: CaseHandedOver) -> None:
        handover.on_parcel(session, env, p, settings)

    def on_answer(session: Session, env: Envelope, p: HandoverAnswered) -> None:
        handover.on_answer(session, env, p, settings)

    return [Subscription(
        STREAMS["federation"], GROUP,
        {NodeDirectory.event_type: on_directory, CaseHandedOver.event_type: on_parcel,
         HandoverAnswered.event_type: on_answer},
        description="the state's node directory, cases handed over to this node, answers to its hand-overs")]
