"""The notifications service as a node runs it: tables, routes, rules and background tasks."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from shared.service import ServiceContext, ServiceSpec

from . import api, consumers, mailer, scheduler
from .models import TABLES


def background(ctx: ServiceContext) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """The overdue check on a municipal node; the mail sender wherever SMTP is configured."""
    tasks = []
    if ctx.settings.level == "municipal":
        tasks.append(scheduler.overdue_checker(ctx))
    if ctx.settings.smtp_host:
        tasks.append(mailer.mail_sender(ctx))
    return tasks


service = ServiceSpec(
    name="notifications",
    tables=TABLES,
    router=api.router,
    subscriptions=consumers.subscriptions,
    background=background,
)
