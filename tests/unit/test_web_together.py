"""A page's API calls at once: the page waits for every one, also when one of them fails."""

from __future__ import annotations

import asyncio

import pytest

from web.client import ApiError, Missing, together


async def test_a_failed_call_waits_for_its_siblings_and_the_first_failure_in_call_order_is_raised() -> None:
    finished: list[str] = []

    async def answer(name: str, after: float, failure: ApiError | None = None) -> str:
        await asyncio.sleep(after)
        finished.append(name)
        if failure is not None:
            raise failure
        return name

    with pytest.raises(Missing):
        await together(answer("slow", 0.2), answer("missing", 0.0, Missing(404, "not found")),
                       answer("failed", 0.05, ApiError(503, "unavailable")))
    assert finished == ["missing", "failed", "slow"]  # nothing left running once the page has its answer
    assert await together(answer("a", 0.02), answer("b", 0.0)) == ["a", "b"]
