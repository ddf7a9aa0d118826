"""Browser-layer fixtures and helpers: a node served over HTTP, Chromium pages that may only talk to it, axe-core."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Route, sync_playwright

from shared.runtime.embedded import EmbeddedServer, free_port
from tests.nodes import node_settings, serving_node

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it)")
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
AXE = Axe()


# Boxes whose content is wider than they are, unless they scroll it (a wide table in .table-scroll).
OVERFLOWING = """() => [...document.querySelectorAll('main *, header *')].filter(e => {
  const style = getComputedStyle(e);
  if (['auto', 'scroll', 'hidden'].includes(style.overflowX) || style.display === 'inline') return false;
  return e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0;
}).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
  + ': ' + (e.textContent || '').trim().slice(0, 40))"""


def accessible(page: Page, what: str) -> None:
    """axe-core on the page as it is now (after a load or an HTMX swap): 0 violations; nothing spills sideways."""
    results = AXE.run(page)
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"
    width, viewport = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{what}: the page is {width}px wide in a {viewport}px window"
    assert page.evaluate(OVERFLOWING) == [], f"{what}: content wider than its box"


@pytest.fixture
def serve(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Serve a node of these settings over HTTP on a free port (uvicorn in a thread); answers its origin."""
    with ExitStack() as stack:
        def start(**overrides: Any) -> str:
            settings = node_settings(tmp_path, valkey.url, http_port=free_port(), **overrides)
            return stack.enter_context(serving_node(settings))

        yield start


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Watch:
    """Pages that may only ask `allowed`: anything else is blocked and remembered, as are the errors they log."""

    def __init__(self, allowed: str, also: tuple[str, ...] = ("data:",)) -> None:
        self.allowed, self.also = allowed, also
        self.foreign: list[str] = []
        self.problems: list[str] = []

    def page(self, context: BrowserContext) -> Page:
        def guard(route: Route) -> None:
            if route.request.url.startswith(self.allowed):
                route.continue_()
            else:
                self.foreign.append(route.request.url)
                route.abort()

        def attempted(request: Request) -> None:
            # Requests the router never sees (refused by the CSP, say) still count as attempts.
            if not request.url.startswith((self.allowed, *self.also)):
                self.foreign.append(request.url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.append(message.text)

        context.route("**/*", guard)
        page = context.new_page()
        page.on("request", attempted)
        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        return page

    def assert_clean(self, who: str = "the web app", tolerated: str | None = "422") -> None:
        """Nothing asked elsewhere; no error but the `tolerated` ones (422 answers carry a form's errors)."""
        assert not self.foreign, f"{who} asked other origins: {sorted(set(self.foreign))}"
        assert [p for p in self.problems if tolerated is None or tolerated not in p] == [], \
            f"errors in the page: {self.problems}"


class Visit:
    """The browser's page, checking each page it shows with axe-core."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.checked: list[str] = []

    def accessible(self, what: str) -> None:
        accessible(self.page, what)
        self.checked.append(what)


@contextmanager
def visiting(origin: str) -> Iterator[Visit]:
    """A German browser that may only talk to the node at `origin`."""
    watch = Watch(origin + "/")
    with chromium() as browser:
        yield Visit(watch.page(browser.new_context(locale="de-DE")), origin)
    watch.assert_clean()
