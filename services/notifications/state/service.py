"""The state level's rule: a municipal node gone silent becomes an alert for the state operators."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from ..mailer import MailConfig
from ..models import Kind, Notification
from ..service import notify

OPERATORS = "state_operator"


def _last_seen(last_seen_at: str | None) -> str:
    """An ISO timestamp as UTC minutes; anything else verbatim (shortened), "never" when absent."""
    if last_seen_at is None:
        return "never"
    try:
        seen = datetime.fromisoformat(last_seen_at)
    except ValueError:
        return last_seen_at[:64]
    seen = seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen.astimezone(UTC)
    return seen.strftime("%Y-%m-%d %H:%M UTC")


def alert_node_silent(
    session: Session, *, tenant: str, source: str, node_id: str, silent_for_s: int,
    last_seen_at: str | None, mail: MailConfig,
) -> Notification | None:
    """Tell the state operators that a municipal node has gone silent (once per alert event)."""
    silence = f"node {node_id} silent for {silent_for_s // 60} min"
    return notify(
        session, tenant=tenant, kind=Kind.node_silent, source=source, recipient_role=OPERATORS,
        title=silence,
        body=(f"{silence} (last seen {_last_seen(last_seen_at)}). Its heartbeat, relay lag and "
              "dead letters are listed under /api/federation/v1/nodes."), mail=mail,
        data={"node_id": node_id, "silent_minutes": str(silent_for_s // 60),
              **({"last_seen_at": last_seen_at[:64]} if last_seen_at else {})})
