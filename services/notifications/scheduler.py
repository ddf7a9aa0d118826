"""The overdue-goal check and the reminders: a durable scheduler that runs every `scheduler_interval_s`."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING

from shared import clock
from shared.db import Database

from . import mailer, reminders, service
from .mailer import MailConfig

if TYPE_CHECKING:
    from shared.service import Background, ServiceContext

log = logging.getLogger(__name__)


def today() -> date:
    """The current calendar day in Baden-Württemberg (tests replace this function to move the clock)."""
    return clock.today()


def check_overdue(db: Database, mail: MailConfig, *, day: date) -> int:
    """One pass: fire what is overdue or due to be reminded on `day` in one transaction; how many fired."""
    with db.session() as session:
        fired = service.fire_overdue(session, today=day, mail=mail)
        fired += reminders.fire_due(session, today=day, mail=mail)
        session.commit()
    return len(fired)


def overdue_checker(ctx: ServiceContext) -> Background:
    """The background task; the watches live in the database, so a restart loses nothing."""
    db, mail = ctx.database, MailConfig.of(ctx.settings)
    interval = ctx.settings.scheduler_interval_s

    async def run() -> None:
        while True:
            try:
                fired = await asyncio.to_thread(check_overdue, db, mail, day=today())
                if fired:
                    log.info("%s overdue goal and reminder notifications", fired)
            except Exception:  # a failed pass is retried on the next tick
                log.exception("overdue check failed")
            await asyncio.sleep(interval)

    return run


def background(ctx: ServiceContext) -> list[Background]:
    """A municipal node's tasks: the overdue check, and the mail sender where SMTP is configured."""
    return [overdue_checker(ctx), *mailer.background(ctx)]
