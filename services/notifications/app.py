"""The notifications service as a node runs it, per level: tables, routes, rules, background tasks."""

from __future__ import annotations

from pathlib import Path

from shared.service import Level, ServiceSpec

from . import api, consumers, mailer, scheduler
from .models import TABLES
from .state import api as state_api
from .state import consumers as state_consumers
from .state.models import TABLES as STATE_TABLES

HERE = Path(__file__).parent

service = ServiceSpec(
    name="notifications",
    # The overdue check and, where SMTP is configured, the mail sender.
    municipal=Level(tables=TABLES, router=api.router, subscriptions=consumers.subscriptions,
                    background=scheduler.background, migrations=HERE / "migrations"),
    # No goals to watch at the state: only the mail sender, where SMTP is configured.
    state=Level(tables=STATE_TABLES, router=state_api.router,
                subscriptions=state_consumers.subscriptions, background=mailer.background,
                migrations=HERE / "state" / "migrations"),
)
