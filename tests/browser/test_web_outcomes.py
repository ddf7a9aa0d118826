"""The state operator's outcome page in real Chromium: a year's figures, withheld ones marked; axe finds nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import redis as redis_sync
from playwright.sync_api import expect

from shared.federation.keys import STATE_TENANT
from shared.runtime.embedded import EmbeddedServer, free_port
from shared.runtime.node import Node
from tests.browser.conftest import needs_chromium, visiting
from tests.integration.test_cases_outcomes_page import YEAR, feed
from tests.integration.test_plans_state_agreements import feed as feed_case
from tests.integration.test_plans_state_agreements import settled
from tests.integration.test_web_statewide import register
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually, node_settings, serving_node

pytestmark = needs_chromium


def agreements(bus: redis_sync.Redis) -> None:
    """Open at the year's end: twelve cases in Stuttgart, six of them with an agreed plan; in Heidelberg six, three."""
    for tenant, n in ((STUTTGART, 12), (HEIDELBERG, 6)):
        for i in range(n):
            feed_case(bus, tenant, f"open-{tenant}-{i}", opened=date(YEAR, 1, 2),
                      agreed=date(YEAR, 2, 1) if i < n // 2 else None)


def test_the_state_operator_reads_the_outcomes_of_a_year(valkey: EmbeddedServer, tmp_path: Path) -> None:
    settings = node_settings(tmp_path, valkey.url, node_id="state", level="state", tenants=[STATE_TENANT],
                             services=["federation", "cases", "plans"], http_port=free_port())
    with serving_node(settings) as origin, visiting(origin) as visit:
        register(NodeHandle(None, Node(settings)))  # type: ignore[arg-type]  # only its databases
        bus = redis_sync.Redis.from_url(valkey.url)
        feed(bus)
        agreements(bus)
        eventually(lambda: settled(bus))
        bus.close()
        page = visit.page
        page.goto(origin + "/")
        page.get_by_label("Landesbetrieb – state (state-operator)").check()
        page.get_by_role("button", name="Anmelden").click()
        page.get_by_role("link", name="Wirkung", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Wirkung der Fallarbeit")
        expect(page.get_by_label("Jahr")).to_have_value(str(YEAR))  # the last full year
        expect(page.locator("#outcomes-independence")).to_contain_text("24.0", timeout=20_000)
        # 9 of 18 open cases statewide have an agreed plan; Heidelberg's 3 are withheld, and Stuttgart's 6 with them
        shares = page.locator("#outcomes-agreements")
        expect(shares).to_contain_text(f"Am 31.12.{YEAR} offene Fälle")
        expect(shares).to_contain_text("18")
        expect(shares).to_contain_text("50,0")
        expect(page.get_by_role("table", name="Erreichte und aufgegebene Ziele nach Handlungsfeld")).to_be_visible()
        expect(page.get_by_role("table", name="Vermittlungen nach Art der Partnerstelle und Stand")).to_contain_text(
            "Jobcenter")
        visit.accessible("outcomes, statewide")
        page.get_by_label("Kommune").select_option(label="Stuttgart")
        page.get_by_role("button", name="Zahlen anzeigen").click()
        expect(page.locator("#outcomes-independence")).to_contain_text("zurückgehalten")
        expect(shares).to_contain_text("zurückgehalten")
        expect(shares).not_to_contain_text("50,0")
        visit.accessible("outcomes, one municipality, withheld")
        page.get_by_label("Jahr").fill("zwanzig")
        page.get_by_role("button", name="Zahlen anzeigen").click()
        expect(page.locator(".error-summary")).to_be_focused()
        visit.accessible("outcomes, with errors")
