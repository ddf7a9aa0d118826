"""The programme's calendar (shared/clock.py): days are Baden-Württemberg's, whatever the machine's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

import pydantic
import pytest

from services.cases.models import ConsultationCreate
from shared import clock

NIGHT = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 December in Stuttgart


class Frozen(datetime):
    """datetime whose now() is NIGHT (in whichever zone it is asked for)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Frozen:  # type: ignore[override]
        return NIGHT.astimezone(tz)  # type: ignore[return-value]


@pytest.mark.parametrize(("moment", "day"), [
    (NIGHT, date(2026, 12, 1)),  # winter: UTC+1
    (datetime(2026, 11, 30, 22, 59, tzinfo=UTC), date(2026, 11, 30)),
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1)),  # summer: UTC+2
    (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), date(2026, 6, 30)),
])
def test_an_events_day_is_its_day_in_baden_wuerttemberg(moment: datetime, day: date) -> None:
    assert clock.day_of(moment) == day


def test_today_is_stuttgarts_day_while_the_machines_utc_day_is_still_yesterday(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "datetime", Frozen)
    assert clock.today() == date(2026, 12, 1)


def test_a_consultation_held_after_midnight_in_stuttgart_is_not_in_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "datetime", Frozen)
    body = {"duration_minutes": 30, "mode": "outreach", "topics": ["language"]}
    assert ConsultationCreate(held_on="2026-12-01", **body).held_on == date(2026, 12, 1)  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="must not be in the future"):
        ConsultationCreate(held_on="2026-12-02", **body)  # type: ignore[arg-type]
