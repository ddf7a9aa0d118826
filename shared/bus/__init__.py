"""The event bus: outbox relay, consumer groups with inbox dedup, reclaim, dead letters, trimming."""

from .consumer import Batched, Consumer, ConsumerOptions, Handler, Subscription, batched, ensure_group, for_tenants
from .deadletter import list_dead_letters, replay
from .outbox import OutboxRelay, add_envelope, emit
from .tables import BUS_TABLES, InboxEntry, OutboxEvent
from .trim import safe_trim_point, trim

__all__ = [
    "BUS_TABLES", "Batched", "Consumer", "ConsumerOptions", "Handler", "InboxEntry", "OutboxEvent",
    "OutboxRelay", "Subscription", "add_envelope", "batched", "emit", "ensure_group", "for_tenants",
    "list_dead_letters", "replay", "safe_trim_point", "trim",
]
