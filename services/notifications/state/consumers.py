"""The state node's subscription: its own watchdog's silent-node alerts become operator notifications."""

from __future__ import annotations

import logging

from sqlmodel import Session

from shared.bus import Subscription
from shared.events import STREAMS, Envelope
from shared.events.federation import NodeSilent
from shared.federation.keys import STATE_TENANT
from shared.service import ServiceContext

from ..consumers import GROUP
from ..mailer import MailConfig
from . import service

log = logging.getLogger(__name__)


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    """The state rule; the node attaches the database."""
    mail, me = MailConfig.of(ctx.settings), ctx.settings.node_id

    def on_node_silent(session: Session, env: Envelope, p: NodeSilent) -> None:
        # Only this node's own watchdog raises the alert (the event is local-scoped).
        if env.node != me or env.tenant != STATE_TENANT:
            log.warning("ignoring %s %s from node %s for tenant %s", env.type, env.event_id,
                        env.node, env.tenant)
            return
        service.alert_node_silent(session, tenant=STATE_TENANT, source=env.event_id,
                                  node_id=p.node_id, silent_for_s=p.silent_for_s,
                                  last_seen_at=p.last_seen_at, mail=mail)

    return [Subscription(STREAMS["federation"], GROUP, {NodeSilent.event_type: on_node_silent},
                         description="silent municipal nodes, for the state operators")]
