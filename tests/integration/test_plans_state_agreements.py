"""Open cases with an agreed plan at the state: agreements on a municipal node reach it, the share on a year's last
day, closed cases leave the open count, and no withheld count comes back by subtracting two answers; on the linked
nodes also the outcomes (test_plans_state_outcomes.py has the rest)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from redis import Redis
from sqlmodel import select

from services.plans.state.agreements import protect_shares
from services.plans.state.models import StateCase
from shared import clock
from shared.disclosure import small
from shared.events import DEAD_LETTERS, STREAMS, Contract, Envelope
from shared.events.cases import CaseClosed, CaseOpened
from shared.events.codes import CloseReason
from shared.events.plans import PlanAgreed
from tests.integration.test_cases_canary import levels  # noqa: F401 (the two-level fixture, by name)
from tests.integration.test_web_statewide import inbound, pseudonym
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

API = "/api/plans/v1/statistics/agreements"
OUTCOMES = "/api/plans/v1/statistics/outcomes"
CASES = "/api/cases/v1/cases"
KARLSRUHE = "08212000"
YEAR = clock.today().year - 1
TENANTS = (STUTTGART, HEIDELBERG, MANNHEIM, KARLSRUHE)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def answer(state: NodeHandle, year: int, tenant: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"year": year} | ({"tenant": tenant} if tenant else {})
    return ok(state.client.get(API, params=params, headers=state.headers("s1", "state_operator")))


def figures(a: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(open, agreed, share), "x" for a withheld count."""
    shown = lambda f: "x" if f["withheld"] else f["count"]  # noqa: E731
    return shown(a["open_cases"]), shown(a["with_agreed_plan"]), a["share_percent"]


# -- the protection, without a node -----------------------------------------------------------
def check_unrecoverable(counts: dict[str, tuple[int, int]]) -> None:
    """Nothing an attacker can subtract from the published figures gives back a count of 1-4."""
    opened, agreed = protect_shares(counts)
    for table, index in ((opened, 0), (agreed, 1)):
        truth = {t: c[index] for t, c in counts.items()}
        assert all(v is None or (v == truth[t] and not small(v)) for t, v in table.cells.items()), (counts, index)
        if table.total is not None:  # statewide minus the shown municipalities: the withheld ones together
            assert table.total == sum(truth.values()) and not small(table.total)
            withheld = [t for t, v in table.cells.items() if v is None]
            assert len(withheld) != 1 and not small(sum(truth[t] for t in withheld)), (counts, index)
    for t, (o, a) in counts.items():  # open minus agreed: one municipality's cases without a plan
        assert opened.cells[t] is None or (agreed.cells[t] is not None and not small(o - a)), (counts, t)
    if opened.total is not None and agreed.total is not None:
        assert not small(opened.total - agreed.total), counts
        # the hidden municipalities' cases without a plan, together: their open count (statewide minus the shown
        # ones) minus their agreed count (the shown ones, and statewide minus the shown for the rest)
        hidden = [t for t, v in opened.cells.items() if v is None]
        assert not small(sum(counts[t][0] - counts[t][1] for t in hidden)), counts


def test_no_withheld_count_comes_back_by_subtraction() -> None:
    # the cases without a plan are a table of their own: 12 open with 10 agreed would tell of 2 without
    opened, agreed = protect_shares({STUTTGART: (12, 10), HEIDELBERG: (20, 10)})
    assert (opened.cells, opened.total) == ({STUTTGART: None, HEIDELBERG: None}, 32)
    assert (agreed.cells, agreed.total) == ({STUTTGART: 10, HEIDELBERG: 10}, 20)
    # one small municipality: its counts, the next smallest with them, and never the total minus the rest
    opened, agreed = protect_shares({STUTTGART: (40, 20), HEIDELBERG: (3, 1), MANNHEIM: (9, 5)})
    assert opened.cells == {STUTTGART: 40, HEIDELBERG: None, MANNHEIM: None} and opened.total == 52
    assert agreed.cells == {STUTTGART: 20, HEIDELBERG: None, MANNHEIM: None} and agreed.total == 26
    # a statewide count that is small itself is withheld, and so is everything that would show it
    opened, agreed = protect_shares({STUTTGART: (3, 3), HEIDELBERG: (0, 0)})
    assert (opened.cells, opened.total, agreed.cells, agreed.total) == (
        {STUTTGART: None, HEIDELBERG: 0}, None, {STUTTGART: None, HEIDELBERG: 0}, None)
    rng = random.Random(12)
    for _ in range(3000):
        counts = {}
        for tenant in TENANTS[:rng.randint(1, 4)]:
            n_open = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 30])
            counts[tenant] = (n_open, rng.randint(0, n_open))
        check_unrecoverable(counts)


# -- the state node, fed as the federation delivers ---------------------------------------------
@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans", level="state")


def settled(redis: Redis) -> bool:
    """The plans service at the state has read and acknowledged both streams it follows."""
    for stream in (STREAMS["cases"], STREAMS["plans"]):
        group = next((g for g in redis.xinfo_groups(stream) if g["name"] == b"plans"), None)
        if group is None or group["lag"] or group["pending"]:
            return False
    return True


def feed(redis: Redis, tenant: str, case: str, *, opened: date | None = None, agreed: date | None = None,
         closed: date | None = None, version: int = 1, reverse: bool = False) -> None:
    """One case's events on the state's streams, in their order or (`reverse`) the other way round."""
    events: list[tuple[Contract, str]] = []
    if opened:
        events.append((CaseOpened(case_id=case, manager="m1", opened_on=opened, household_size=1), case))
    if agreed:
        events.append((PlanAgreed(plan_id=f"plan-{case}", case_id=case, manager="m1", plan_version=version,
                                  agreed_on=agreed), f"plan-{case}"))
    if closed:
        events.append((CaseClosed(case_id=case, manager="m1", closed_on=closed, reason=CloseReason.moved_away), case))
    for payload, aggregate in reversed(events) if reverse else events:
        inbound(redis, payload, tenant, pseudonym(aggregate))


def test_the_share_on_the_years_last_day_with_small_counts_withheld(state: NodeHandle, redis: Redis) -> None:
    spring, after = date(YEAR, 3, 1), date(YEAR + 1, 1, 1)
    for i in range(12):  # Stuttgart: twelve open all year, seven of them agreed in spring
        feed(redis, STUTTGART, f"s{i}", opened=date(YEAR, 2, 1), agreed=spring if i < 7 else None)
    feed(redis, STUTTGART, "closed-in-summer", opened=date(YEAR - 1, 5, 1), agreed=spring, closed=date(YEAR, 6, 30))
    feed(redis, STUTTGART, "closed-on-new-years-eve", opened=spring, closed=date(YEAR, 12, 31))
    feed(redis, STUTTGART, "only-seen-closed", closed=date(YEAR, 8, 1))
    feed(redis, STUTTGART, "closed-next-year", opened=spring, closed=after)  # open at the year's end
    feed(redis, STUTTGART, "opened-next-year", opened=after, agreed=after)
    feed(redis, STUTTGART, "agreed-next-year", opened=spring, agreed=after)  # open, not yet agreed
    feed(redis, STUTTGART, "agreed-before-seen-opened", opened=spring, agreed=spring, reverse=True)
    feed(redis, STUTTGART, "closed-before-seen-opened", opened=spring, closed=date(YEAR, 9, 1), reverse=True)
    redis.xadd(STREAMS["cases"], {"event": redis.xrange(STREAMS["cases"], count=1)[0][1][b"event"]})  # again
    for i in range(6):  # Heidelberg: six open, three agreed
        feed(redis, HEIDELBERG, f"h{i}", opened=spring, agreed=spring if i < 3 else None)
    for i in range(7):  # Mannheim: seven open, two agreed
        feed(redis, MANNHEIM, f"m{i}", opened=spring, agreed=spring if i < 2 else None)
    eventually(lambda: settled(redis))

    # open at the year's end: Stuttgart 12 + closed-next-year + agreed-next-year + agreed-before-seen-opened = 15,
    # of them agreed 7 + 1; Heidelberg 6 with 3, Mannheim 7 with 2: the agreed counts 3 and 2 are withheld
    # (together 5), the cases without a plan 3 (Heidelberg) and the next smallest, Mannheim's 5, with them
    statewide = answer(state, YEAR)
    assert statewide["counted_on"] == f"{YEAR}-12-31" and statewide["tenant"] is None and statewide["min_cell"] == 5
    assert figures(statewide) == (28, 13, 46.4)
    assert figures(answer(state, YEAR, STUTTGART)) == (15, 8, 53.3)
    assert figures(answer(state, YEAR, HEIDELBERG)) == ("x", "x", None)
    assert figures(answer(state, YEAR, MANNHEIM)) == ("x", "x", None)
    assert figures(answer(state, YEAR, KARLSRUHE)) == (0, 0, None)  # no case: nothing to share
    # statewide minus Stuttgart leaves two municipalities together, never one alone
    assert 28 - 15 == 6 + 7 and 13 - 8 == 3 + 2
    # the year before: only the case opened then, and closed in the summer after, was open
    assert figures(answer(state, YEAR - 1)) == ("x", 0, None)
    # today: the closed-next-year case is closed, the ones of the new year are open
    now = answer(state, clock.today().year)
    assert now["counted_on"] == clock.today().isoformat()  # the programme's calendar day, not the machine's
    with state.node.contexts["plans"].database.session() as s:
        rows = {r.case_pseudonym: r for r in s.exec(select(StateCase)).all()}
    first = rows[pseudonym("agreed-before-seen-opened")]
    assert (first.node, first.tenant, first.opened_on, first.agreed_on) == ("node-a", STUTTGART, spring, spring)
    assert rows[pseudonym("only-seen-closed")].opened_on is None
    late = rows[pseudonym("closed-before-seen-opened")]
    assert (late.opened_on, late.closed_on) == (spring, date(YEAR, 9, 1))
    assert len(rows) == 12 + 8 + 6 + 7 and redis.xlen(DEAD_LETTERS) == 0


def test_the_first_agreement_counts_whichever_arrives_first(state: NodeHandle, redis: Redis) -> None:
    for i in range(5):  # version 2 arrives before version 1, then version 3
        feed(redis, HEIDELBERG, f"h{i}", opened=date(YEAR, 1, 5), agreed=date(YEAR, 11, 1), version=2)
        feed(redis, HEIDELBERG, f"h{i}", agreed=date(YEAR, 4, 1))
        feed(redis, HEIDELBERG, f"h{i}", agreed=date(YEAR, 12, 1), version=3)
    eventually(lambda: settled(redis))
    with state.node.contexts["plans"].database.session() as s:
        assert {r.agreed_on for r in s.exec(select(StateCase)).all()} == {date(YEAR, 4, 1)}
    assert figures(answer(state, YEAR, HEIDELBERG)) == (5, 5, 100.0)
    mid_year = answer(state, YEAR - 1, HEIDELBERG)
    assert figures(mid_year) == (0, 0, None) and mid_year["counted_on"] == f"{YEAR - 1}-12-31"


def test_bad_queries_and_callers(state: NodeHandle, redis: Redis) -> None:
    operator = state.headers("s1", "state_operator")
    assert state.client.get(API, params={"year": YEAR}).status_code == 401
    for role in ("manager", "lead", "node_admin"):
        assert state.client.get(API, params={"year": YEAR}, headers=state.headers("x", role)).status_code == 403
    assert ok(state.client.get(API, params={"year": YEAR}, headers=state.headers("f", "funding_officer")))
    for bad in ({"year": clock.today().year + 1}, {"year": 1999}, {"year": "zwanzig"}, {"year": 10**30}, {}):
        r = state.client.get(API, params=bad, headers=operator)
        assert r.status_code == 422, bad
        assert [d["field"] for d in r.json()["detail"]] == ["year"], r.text
    r = state.client.get(API, params={"year": YEAR, "tenant": "0811100"}, headers=operator)
    assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == ["tenant"]
    # a case id that is no pseudonym goes to the dead letters, and the cases after it are counted
    raw = CaseOpened(case_id="y" * 101, manager="m1", opened_on=date(YEAR, 1, 1), household_size=1)
    redis.xadd(STREAMS["cases"], {"event": Envelope(
        type=raw.event_type, version=raw.version, tenant=STUTTGART, node="node-a", scope="up", aggregate_id="y",
        payload=raw.model_dump(mode="json", exclude={"manager"})).to_json()})
    for i in range(5):
        feed(redis, STUTTGART, f"s{i}", opened=date(YEAR, 1, 1))
    eventually(lambda: redis.xlen(DEAD_LETTERS) == 1 and settled(redis), timeout=30)
    assert figures(answer(state, YEAR, STUTTGART)) == (5, 0, 0.0)


# -- a municipal node and the state, linked -----------------------------------------------------
def test_agreements_on_a_municipal_node_reach_the_state(request: pytest.FixtureRequest) -> None:
    muni, state, _, state_srv = request.getfixturevalue("levels")
    m1 = muni.headers("m1", "manager", tenants=[STUTTGART])
    today = clock.today()
    cases = []
    for i in range(11):
        case = ok(muni.client.post(CASES, headers=m1, json={
            "given_name": f"Client{i}", "family_name": "Test", "birth_date": "1990-03-27", "nationality": "SYR",
            "languages": ["ar"], "household_size": 1, "eligibility": "follow_up_accommodation",
            "accommodation_since": "2025-09-01"}), 201)
        cases.append(case["id"])

    def plan_of(case_id: str) -> Any:
        r = muni.client.get("/api/plans/v1/plans", headers=m1, params={"case_id": case_id})
        return r.status_code == 200 and r.json()

    goals = []
    for case_id in cases[:5]:
        plan = eventually(lambda: plan_of(case_id))  # noqa: B023 (called at once, in this round)
        base = f"/api/plans/v1/plans/{plan['id']}"
        added = ok(muni.client.post(f"{base}/goals", headers=m1, json={"area": "language", "title": "Deutschkurs B1"}),
                   201)
        goals.append(f"{base}/goals/{added['id']}")
        ok(muni.client.post(f"{base}/agreements", headers=m1, json={
            "agreed_on": today.isoformat(), "language": "ar", "signed_on_paper": True}), 201)

    def known(closed: int = 0) -> list[StateCase] | None:
        with state.node.contexts["plans"].database.session() as s:
            rows = list(s.exec(select(StateCase).where(StateCase.tenant == STUTTGART)).all())
        seen = [sum(getattr(r, day) is not None for r in rows) for day in ("opened_on", "agreed_on", "closed_on")]
        return rows if seen == [11, 5, closed] else None

    rows = eventually(known, timeout=30)
    assert {r.agreed_on for r in rows} == {today, None} and all(len(r.case_pseudonym) == 64 for r in rows)
    assert not {r.case_pseudonym for r in rows} & set(cases)  # the state knows the cases by pseudonyms only
    assert figures(answer(state, today.year)) == (11, 5, 45.5)
    assert figures(answer(state, today.year, STUTTGART)) == (11, 5, 45.5)
    # the state's stream holds the agreement without the manager or anything of what was agreed
    agreed = [e for e in entries(state_srv.url, STREAMS["plans"]) if b'"PlanAgreed"' in e]
    assert len(agreed) == 5
    for entry in agreed:
        payload = json.loads(entry)["payload"]
        assert set(payload) == {"plan_id", "case_id", "plan_version", "agreed_on"}
        assert (payload["plan_version"], payload["agreed_on"], len(payload["case_id"])) == (1, today.isoformat(), 64)

    ok(muni.client.post(f"{CASES}/{cases[-1]}/close", headers=m1, json={"reason": "moved_away"}))
    eventually(lambda: known(closed=1), timeout=30)
    assert figures(answer(state, today.year)) == (10, 5, 50.0)  # a closed case leaves the open count

    # the outcomes: the five goals achieved, their clients counselled 92 days ago and independent today
    for url, case_id in zip(goals, cases[:5], strict=True):
        ok(muni.client.patch(url, headers=m1, json={"status": "achieved"}))
        ok(muni.client.post(f"{CASES}/{case_id}/consultations", headers=m1, json={
            "held_on": (today - timedelta(days=92)).isoformat(), "duration_minutes": 45, "mode": "office",
            "topics": ["language"]}), 201)
        ok(muni.client.post(f"{CASES}/{case_id}/close", headers=m1, json={"reason": "independent"}))
    operator = state.headers("s1", "state_operator")

    def outcomes() -> Any:
        r = state.client.get(OUTCOMES, headers=operator, params={"year": today.year, "tenant": STUTTGART})
        a = ok(r)
        counts = a["months_to_independence"]["closed_independent"]["count"], a["goals"]["language"]["achieved"]["count"]
        return a if counts == (5, 5) else None  # the cases and the plans stream both caught up

    outcome = eventually(outcomes, timeout=30)
    assert outcome["goals"]["language"] == {"achieved": {"count": 5, "withheld": False},
                                            "dropped": {"count": 0, "withheld": False}}
    assert outcome["months_to_independence"]["median_months"] == 3.0  # 92 days
    assert figures(outcome["agreed_plans"]) == (5, 0, 0.0)  # the five agreed are closed now
    assert ok(state.client.get(OUTCOMES, headers=operator, params={"year": today.year}))["goals"] == outcome["goals"]


def entries(url: str, stream: str) -> list[bytes]:
    """The envelopes on a stream of another server."""
    client = Redis.from_url(url)
    try:
        return [fields[b"event"] for _, fields in client.xrange(stream)]
    finally:
        client.close()
