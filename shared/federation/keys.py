"""Key names on the state Redis: one inbound stream per node, downward streams per node and for all."""

INBOUND_PREFIX = "lotse:fed:in:"
DOWN_PREFIX = "lotse:fed:down:"
DOWN_ALL = "lotse:fed:down:all"
REJECTED = "lotse:fed:rejected"
STATE_TENANT = "08000000"  # Baden-Württemberg as a whole: the state node's own notices


def inbound_stream(node_id: str) -> str:
    """Where a municipal node appends its signed, pseudonymous events (only it may write here)."""
    return INBOUND_PREFIX + node_id


def down_stream(node_id: str) -> str:
    """Where the state appends what is addressed to one node (only that node may read here)."""
    return DOWN_PREFIX + node_id
