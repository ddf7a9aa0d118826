"""The state operator's outcome page on a real state node: figures per year, withheld ones marked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from redis import Redis

from shared import clock
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded
from tests.integration.test_web_pages import sign_in
from tests.integration.test_web_statewide import OPERATOR, WITHHELD, inbound, pseudonym, register
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

YEAR = clock.today().year - 1


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("federation", "cases", "plans", level="state")


def feed(redis: Redis) -> None:
    """Six Stuttgart clients independent after two years, two in Heidelberg (withheld, and Stuttgart with them)."""
    for tenant, cases in ((STUTTGART, [f"s{i}" for i in range(6)]), (HEIDELBERG, ["h0", "h1"])):
        for case in cases:
            first = date(YEAR - 2, 3, 1)
            inbound(redis, CaseOpened(case_id=case, opened_on=first, household_size=3,
                                      eligibility="follow_up_accommodation", household_members={"child": 2}),
                    tenant, pseudonym(case))
            inbound(redis, ConsultationRecorded(case_id=case, held_on=first, duration_minutes=30, mode="office",
                                                topics=["work"]), tenant, pseudonym(case))
            inbound(redis, CaseClosed(case_id=case, closed_on=date(YEAR, 3, 1), reason="independent"), tenant,
                    pseudonym(case))


def test_the_outcomes_page_shows_a_year_and_marks_what_is_withheld(state: NodeHandle, redis: Redis) -> None:
    register(state)
    feed(redis)
    sign_in(state.client, OPERATOR)
    whole = eventually(lambda: (p := state.client.get("/state/outcomes").text) and "<dd>8</dd>" in p and p)
    assert "Wirkung der Fallarbeit" in whole and "<dd>24.0</dd>" in whole  # the last full year by default
    stuttgart = state.client.get("/state/outcomes", params={"year": YEAR, "tenant": STUTTGART}).text
    assert WITHHELD in stuttgart and "<dd>6</dd>" not in stuttgart  # 8 - 2 would give Heidelberg's two
    wrong = state.client.get("/state/outcomes", params={"year": "neunzehn", "tenant": "0"})
    assert wrong.status_code == 422 and 'href="#f-year"' in wrong.text and 'href="#f-tenant"' in wrong.text
    future = state.client.get("/state/outcomes", params={"year": clock.today().year + 1})
    assert future.status_code == 422 and 'href="#f-year"' in future.text  # the API's reason at the field
