"""Sign-in at an OpenID provider in real Chromium: the provider's page, the start page by role, sign-out, a refusal.

axe-core finds nothing on Lotse's pages; every request goes to 127.0.0.1 (the provider runs there too).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect, sync_playwright

from tests.browser.conftest import ARGS, CHROMIUM, needs_chromium
from tests.browser.conftest import accessible as axe_finds_nothing
from tests.nodes import STUTTGART

pytestmark = needs_chromium
CLIENT = "lotse-web"
LOCAL = "http://127.0.0.1:"
# The provider's own page asks a CDN for its stylesheet: blocked like everything else off this machine.
PROVIDER_STYLESHEET = "https://cdn.jsdelivr.net/npm/@picocss/"


@pytest.fixture
def issuer() -> Iterator[str]:
    users = [User(sub="amina.manager", claims={"roles": ["manager"], "tenants": [STUTTGART]}),
             User(sub="olaf.outsider", claims={"roles": ["admin"], "tenants": [STUTTGART]})]
    with run_server_in_thread(require_nonce=True, user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def origin(serve: Callable[..., str], issuer: str) -> str:
    """A node signing its web users in at the provider, serving HTTP."""
    return serve(services=["cases", "notifications"], oidc_issuer=issuer, oidc_client_id=CLIENT,
                 oidc_client_secret="test-secret", oidc_audience=CLIENT)


def accessible(page: Page, origin: str, what: str) -> None:
    assert page.url.startswith(origin + "/"), f"{what}: not one of Lotse's pages ({page.url})"
    axe_finds_nothing(page, what)


def test_a_manager_signs_in_at_the_provider_and_out_again(origin: str, issuer: str) -> None:
    foreign: list[tuple[str, str]] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="de-DE")

        def guard(route: Route) -> None:
            if route.request.url.startswith(LOCAL):
                route.continue_()
            else:
                foreign.append((route.request.url, route.request.frame.url))
                route.abort()

        def attempted(request: Request) -> None:
            if not request.url.startswith((LOCAL, "data:")):
                foreign.append((request.url, request.frame.url))

        def console(message: ConsoleMessage) -> None:
            if message.type == "error" and page.url.startswith(origin):
                problems.append(f"{page.url}: {message.text}")

        context.route("**/*", guard)
        page = context.new_page()
        page.on("request", attempted)
        page.on("console", console)

        page.goto(origin + "/cases")  # not signed in: off to the provider, with nothing to say first
        expect(page).to_have_url(re.compile(re.escape(f"{issuer}/oauth2/authorize?")))
        page.get_by_role("button", name="amina.manager").click()
        expect(page).to_have_url(origin + "/cases")  # a manager starts at the caseload
        expect(page.get_by_role("heading", level=1)).to_have_text("Meine Fälle")
        expect(page.locator(".header__user")).to_contain_text("amina.manager")
        accessible(page, origin, "caseload after sign-in")

        page.get_by_role("button", name="Abmelden").click()
        expect(page).to_have_url(origin + "/login")
        expect(page.locator("#flash")).to_contain_text("Sie haben sich abgemeldet.")
        expect(page.get_by_role("link", name="Auch vom Konto Ihrer Organisation abmelden")).to_have_attribute(
            "href", f"{issuer}/oauth2/end_session?client_id={CLIENT}")
        accessible(page, origin, "signed out")

        page.get_by_role("link", name="Anmelden", exact=True).click()  # someone else signs in: no Lotse role
        page.get_by_role("button", name="olaf.outsider").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Konto hat keinen Zugang zu Lotse")
        accessible(page, origin, "no Lotse role")
        page.goto(origin + "/cases")
        expect(page).to_have_url(re.compile(re.escape(f"{issuer}/oauth2/authorize?")))
        browser.close()
    assert all(url.startswith(PROVIDER_STYLESHEET) and frame.startswith(issuer) for url, frame in foreign), foreign
    # The refusal answers 403 by design (the browser logs it as a failed load); nothing else may fail.
    assert [p for p in problems if "403" not in p] == [], problems
