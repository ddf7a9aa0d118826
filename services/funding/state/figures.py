"""The annual figures at the state: who submitted for a year, who is late after 31 January, statewide totals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON
from sqlmodel import Field, Session, SQLModel, select

from shared.events import utcnow
from shared.events.funding import MIN_CELL, KeyFiguresSubmitted
from shared.privacy import AGS_CODE, AMOUNT, NODE_ID, PROCESS_DATE, TIMESTAMP

from ..figures import due_on
from .models import FundingStateApplication, FundingStatePosition


class FundingStateKeyFigures(SQLModel, table=True):
    """A municipality's submitted figures of a year, as its node sent them (aggregated, small cells withheld)."""

    __tablename__ = "funding_state_key_figures"
    __not_personal__ = {
        "tenant": AGS_CODE, "node": NODE_ID, "figures": AMOUNT, "submitted_on": PROCESS_DATE,
        "received_at": TIMESTAMP,
    }

    tenant: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    node: str = Field(max_length=63)
    figures: dict[str, Any] = Field(sa_type=JSON)
    submitted_on: date
    received_at: datetime = Field(default_factory=utcnow)


TABLES = [FundingStateKeyFigures.__table__]  # type: ignore[attr-defined]


def record(session: Session, *, node: str, tenant: str, payload: KeyFiguresSubmitted) -> bool:
    """Keep a municipality's submission; False when the year's figures are already here."""
    if session.get(FundingStateKeyFigures, (tenant, payload.year)) is not None:
        return False
    session.add(FundingStateKeyFigures(tenant=tenant, year=payload.year, node=node,
                                       figures=payload.model_dump(mode="json"), submitted_on=payload.submitted_on))
    session.flush()
    return True


class MunicipalityStatus(BaseModel):
    tenant: str
    submitted_on: date | None
    late: bool  # submitted after the due date, or not submitted and the due date has passed


class Total(BaseModel):
    """A statewide sum of what was shown; `withheld_in` municipalities withheld this cell."""

    value: int | float | None  # None: the sum itself is small (1-4), withheld
    withheld_in: int


class KeyFiguresOverview(BaseModel):
    """Body of GET /key-figures?year= at the state."""

    year: int
    due_on: date
    municipalities: list[MunicipalityStatus]
    totals: dict[str, Total]


def _total(values: Iterable[Any], *, counts_people: bool = True) -> Total:
    found = list(values)
    shown = [v for v in found if v is not None]
    value: int | float | None = round(sum(shown), 3) if isinstance(sum(shown), float) else sum(shown)
    if (counts_people and isinstance(value, int) and 0 < value < MIN_CELL) or (found and not shown):
        value = None  # a small sum, or nothing shown to sum
    return Total(value=value, withheld_in=len(found) - len(shown))


def known_tenants(session: Session) -> set[str]:
    """The municipalities the state's funding service knows: by positions, applications or figures."""
    return (set(session.exec(select(FundingStatePosition.tenant)).all())
            | set(session.exec(select(FundingStateApplication.tenant)).all())
            | set(session.exec(select(FundingStateKeyFigures.tenant)).all()))


def overview(session: Session, *, year: int, today: date) -> KeyFiguresOverview:
    """Every known municipality with its submission's date and lateness, and the submitted figures summed."""
    rows = {r.tenant: r for r in session.exec(
        select(FundingStateKeyFigures).where(FundingStateKeyFigures.year == year)).all()}
    due = due_on(year)
    statuses = [MunicipalityStatus(tenant=t, submitted_on=rows[t].submitted_on if t in rows else None,
                                   late=(rows[t].submitted_on if t in rows else today) > due)
                for t in sorted(known_tenants(session))]
    figures = [r.figures for r in rows.values()]
    totals = {name: _total(f[name] for f in figures) for name in ("consultations", "minutes", "clients")}
    for name in ("household_members", "plans_agreed"):  # submissions from before these figures lack them
        totals[name] = _total(f[name] for f in figures if name in f)
    for group in ("by_topic", "by_mode"):
        for key in sorted({k for f in figures for k in f[group]}):
            totals[f"{group}.{key}"] = _total(f[group].get(key) for f in figures)
    for area in sorted({a for f in figures for a in f["goals"]}):
        for status in sorted({s for f in figures for s in f["goals"].get(area, {})}):
            totals[f"goals.{area}.{status}"] = _total(f["goals"].get(area, {}).get(status) for f in figures)
    totals["positions"] = _total((f["positions"] for f in figures), counts_people=False)
    totals["fte"] = _total((f["fte"] for f in figures), counts_people=False)
    return KeyFiguresOverview(year=year, due_on=due, municipalities=statuses, totals=totals)
