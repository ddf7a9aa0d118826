"""Prometheus metrics of the bus."""

from prometheus_client import Counter, Gauge

PUBLISHED = Counter("lotse_events_published", "Events published from an outbox", ["stream"])
CONSUMED = Counter("lotse_events_consumed", "Events whose effects were committed", ["group"])
DUPLICATES = Counter("lotse_events_duplicate", "Deliveries absorbed by the inbox", ["group"])
FAILED = Counter("lotse_events_failed", "Handler failures (will be retried)", ["group"])
DEAD_LETTERED = Counter("lotse_events_dead_lettered", "Entries moved to dead letters", ["group"])
RECLAIMED = Counter("lotse_events_reclaimed", "Idle pending entries reclaimed", ["group"])
LAG = Gauge("lotse_consumer_lag", "Entries not yet delivered to the group", ["stream", "group"])
PENDING = Gauge("lotse_consumer_pending", "Delivered but unacknowledged entries", ["stream", "group"])
OUTBOX_BACKLOG = Gauge("lotse_outbox_backlog", "Outbox rows not yet published", ["service"])
DEAD_LETTERS = Gauge("lotse_dead_letters", "Entries in the dead-letter stream")
TRIMMED = Counter("lotse_stream_trimmed", "Entries trimmed after every group acknowledged", ["stream"])
