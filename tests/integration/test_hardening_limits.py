"""Rate limits per caller: sign-in and expensive reads answer 429 with Retry-After past a caller's budget."""

from __future__ import annotations

from collections.abc import Callable

from tests.nodes import STUTTGART, NodeHandle

STATISTICS = "/api/cases/v1/statistics/consultations"


def test_a_caller_past_its_budget_waits_and_others_do_not(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", tenants=[STUTTGART], rate_limit_burst=3, rate_limit_per_minute=1)
    lead, other = node.headers("lead-1", "lead"), node.headers("lead-2", "lead")
    assert [node.client.get(STATISTICS, headers=lead).status_code for _ in range(3)] == [200] * 3
    refused = node.client.get(STATISTICS, headers=lead)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "try again" in refused.json()["detail"] and refused.headers["cache-control"] == "no-store"
    assert node.client.get(STATISTICS, headers=other).status_code == 200  # per caller
    assert node.client.get("/api/cases/v1/cases", headers=lead).status_code == 200  # only what is expensive
    assert node.client.get("/api/cases/v1/cases?q=Amina", headers=lead).status_code == 429  # a search is


def test_sign_in_attempts_are_limited(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", tenants=[STUTTGART], rate_limit_burst=2, rate_limit_per_minute=1)
    answers = [node.client.post("/login", data={"sub": "nobody"}, follow_redirects=False).status_code
               for _ in range(3)]
    assert 429 not in answers[:2] and answers[2] == 429
