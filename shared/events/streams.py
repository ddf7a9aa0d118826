"""Where events travel: a node's bus streams and the federation hop between nodes."""

from shared.federation.keys import DOWN_PREFIX, INBOUND_PREFIX

# Each producing service appends to one stream on its node's Redis; consumers subscribe by stream.
CASES = "lotse:events:cases"
PLANS = "lotse:events:plans"
FUNDING = "lotse:events:funding"
NOTIFICATIONS = "lotse:events:notifications"
FEDERATION = "lotse:events:federation"  # the link's own events, and what the state sent down
STREAMS = {"cases": CASES, "plans": PLANS, "funding": FUNDING, "notifications": NOTIFICATIONS,
           "federation": FEDERATION}
DEAD_LETTERS = "lotse:dlq"

# The federation hop, on the state's Redis; "{node}" stands for one municipal node's id.
FED_UP = INBOUND_PREFIX + "{node}"
FED_DOWN = DOWN_PREFIX + "{node}"
