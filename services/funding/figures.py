"""The annual figures (Kennzahlen) a municipality submits to the state, aggregated with small cells withheld.

Consultation and goal figures come from the cases and plans services' statistics APIs (the lead's own
figures, already withheld as the state would); positions and FTE are this service's own.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON
from sqlmodel import Field, Session, SQLModel, col, select

from shared.bus import emit
from shared.errors import Conflict
from shared.events import STREAMS, utcnow
from shared.events.funding import CountedFigures, KeyFiguresSubmitted
from shared.fields import AGS_PATTERN
from shared.privacy import AGS_CODE, AMOUNT, PROCESS_DATE, TIMESTAMP, DataClass, Personal, Retention

from .grants import funded_months
from .models import FundingPosition
from .terms import FUNDED


def due_on(year: int) -> date:
    """A year's figures are due on 31 January of the next year."""
    return date(year + 1, 1, 31)


class FundingKeyFigures(SQLModel, table=True):
    """A municipality's submitted figures of one calendar year (as sent to the state)."""

    __tablename__ = "funding_key_figures"
    __not_personal__ = {"tenant": AGS_CODE, "figures": AMOUNT, "submitted_on": PROCESS_DATE, "created_at": TIMESTAMP}
    __personal__ = {"submitted_by": Personal(DataClass.staff, "who submitted the figures", Retention.funding)}

    tenant: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    figures: dict[str, Any] = Field(sa_type=JSON)  # the KeyFiguresSubmitted payload
    submitted_on: date
    submitted_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


TABLES = [FundingKeyFigures.__table__]  # type: ignore[attr-defined]

class KeyFiguresCreate(CountedFigures):
    """Body of POST /key-figures/{year}/submit: the figures as the statistics APIs publish them."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = pydantic.Field(default=None, max_length=8, pattern=AGS_PATTERN)


class KeyFiguresPublic(BaseModel):
    """Body of GET /key-figures/{year}: positions and FTE computed here; the submission, once made."""

    tenant: str
    year: int
    due_on: date
    positions: int
    fte: float
    submitted_on: date | None
    late: bool
    figures: dict[str, Any] | None


def positions_in_year(session: Session, *, tenants: Collection[str], year: int) -> tuple[int, float]:
    """The positions funded in the year (any funded month) and their FTE; none applied for, refused or withdrawn."""
    found = [p for p in session.exec(select(FundingPosition).where(
        col(FundingPosition.tenant).in_(list(tenants)), col(FundingPosition.status).in_(FUNDED))).all()
        if funded_months(starts_on=p.starts_on, ends_on=p.ends_on, year=year)]
    return len(found), round(sum(p.fte for p in found), 3)


def key_figures(session: Session, *, tenant: str, year: int, today: date) -> KeyFiguresPublic:
    """The municipality's figures of the year: positions computed now, the submission if made."""
    positions, fte = positions_in_year(session, tenants=[tenant], year=year)
    row = session.get(FundingKeyFigures, (tenant, year))
    submitted_on = row.submitted_on if row else None
    return KeyFiguresPublic(tenant=tenant, year=year, due_on=due_on(year), positions=positions, fte=fte,
                            submitted_on=submitted_on,
                            late=(submitted_on or today) > due_on(year), figures=row.figures if row else None)


def submit(
    session: Session, *, tenant: str, year: int, body: KeyFiguresCreate, actor: str, today: date, node: str,
) -> FundingKeyFigures:
    """Submit the year's figures once, after the year ended (KeyFiguresSubmitted goes up)."""
    if year >= today.year:
        raise Conflict(f"the figures of {year} are submitted after the year ends")
    if session.get(FundingKeyFigures, (tenant, year), with_for_update=True) is not None:
        raise Conflict(f"the figures of {year} have already been submitted")
    positions, fte = positions_in_year(session, tenants=[tenant], year=year)
    payload = KeyFiguresSubmitted(year=year, submitted_on=today, positions=positions, fte=fte,
                                  **body.model_dump(exclude={"tenant"}))
    row = FundingKeyFigures(tenant=tenant, year=year, figures=payload.model_dump(mode="json"),
                            submitted_on=today, submitted_by=actor[:255])
    session.add(row)
    emit(session, payload, stream=STREAMS["funding"], tenant=tenant, node=node, aggregate_id=f"{tenant}-{year}")
    return row

