"""Offline: a headless browser loads the node's docs pages and asks no origin but the node's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Watch, chromium, needs_chromium

pytestmark = needs_chromium


@pytest.fixture
def origin(serve: Callable[..., str]) -> str:
    """A node serving HTTP, as a browser reaches it."""
    return serve(services=["cases", "funding"])


@pytest.fixture
def page(origin: str) -> Iterator[Page]:
    """A page that may only talk to the node: anything else is blocked and remembered."""
    watch = Watch(origin + "/", also=("data:", "blob:"))
    with chromium() as browser:
        yield watch.page(browser.new_context())
    watch.assert_clean("the docs", tolerated=None)


def test_swagger_ui_lists_the_operations(origin: str, page: Page) -> None:
    response = page.goto(origin + "/docs")
    assert response is not None and "script-src 'self';" in response.headers["content-security-policy"]
    paths = page.locator(".opblock-summary-path")
    paths.first.wait_for()
    listed = {text.replace("\u200b", "") for text in paths.all_inner_texts()}
    assert {"/api/cases/v1/cases", "/api/cases/v1/cases/{case_id}"} <= listed
    assert any(path.startswith("/api/funding/") for path in listed)


def test_redoc_renders_the_operations(origin: str, page: Page) -> None:
    page.goto(origin + "/redoc")
    page.locator("[data-section-id^='operation/']").first.wait_for()
    assert page.locator("[data-section-id^='operation/']").count() > 3
    assert page.get_by_role("heading", name="Open Case").count() == 1


def test_the_event_catalogue_shows_channels_and_the_federation_hop(origin: str, page: Page) -> None:
    response = page.goto(origin + "/docs/events")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "script-src" not in csp  # a page without any script
    channels = page.locator("#channels h3").all_inner_texts()
    assert {"lotse:events:cases", "lotse:fed:in:{node}", "lotse:fed:down:{node}", "lotse:events:federation"} <= set(
        channels)
    decided = page.locator("#message-ExtensionDecided\\.v1 .route").inner_text()
    assert decided == "lotse:fed:down:{node} (state) → lotse:events:federation (municipal)"
    assert page.locator("#envelope table tr").count() > 5
