"""Offline: a headless browser loads the node's docs pages and asks no origin but the node's."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Page, Request, Route, sync_playwright

from shared.runtime.app import build_app
from shared.runtime.embedded import EmbeddedServer, free_port
from shared.runtime.logging import UVICORN_LOGGING
from shared.runtime.node import Node
from tests.nodes import node_settings

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it)")
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture
def origin(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[str]:
    """A node serving HTTP on a free port (uvicorn in a thread), as a browser reaches it."""
    port = free_port()
    settings = node_settings(tmp_path, valkey.url, services=["cases", "funding"], http_port=port)
    server = uvicorn.Server(uvicorn.Config(build_app(Node(settings)), host="127.0.0.1", port=port,
                                           lifespan="on", **UVICORN_LOGGING))
    thread = threading.Thread(target=server.run, name="docs-node", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the node did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=60)


@pytest.fixture
def page(origin: str) -> Iterator[Page]:
    """A page that may only talk to the node: anything else is blocked and remembered."""
    foreign: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()

        def guard(route: Route) -> None:
            if route.request.url.startswith(origin + "/"):
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        def attempted(request: Request) -> None:
            # Requests the router never sees (refused by the page's CSP, say) still count as attempts.
            if not request.url.startswith((origin + "/", "data:", "blob:")):
                foreign.append(request.url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.append(message.text)

        page.on("request", attempted)
        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield page
        browser.close()
    assert not foreign, f"the docs asked other origins: {sorted(set(foreign))}"
    assert not problems, f"errors in the page: {problems}"


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
