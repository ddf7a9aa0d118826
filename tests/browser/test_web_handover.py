"""Hand-over to another municipality in real Chromium: the lead sends a case, then answers two incoming ones.

axe-core finds nothing on any of these pages; no request leaves the node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from shared.db import Database
from shared.keystore import KeyStore
from shared.runtime.embedded import EmbeddedServer, free_port
from shared.runtime.node import Node
from shared.settings import Settings
from tests.browser.conftest import Visit, Watch, chromium, needs_chromium
from tests.browser.test_web_privacy import open_case, sign_in, sign_out
from tests.integration.test_handover_pages import deliver, seed_directory
from tests.nodes import STUTTGART, node_settings, serving_node

pytestmark = needs_chromium
LEAD = "Teamleitung – Stuttgart (lead-stuttgart)"


@dataclass
class Served:
    """Stuttgart's node over HTTP, its cases database (with the key store sealing it) and node-b's key."""

    origin: str
    settings: Settings
    database: Database
    sender: Ed25519PrivateKey


@pytest.fixture
def served(valkey: EmbeddedServer, tmp_path: Path) -> Iterator[Served]:
    settings = node_settings(tmp_path, valkey.url, http_port=free_port(), tenants=[STUTTGART],
                             services=["cases", "plans", "notifications"])
    with serving_node(settings) as origin:
        database = Node(settings).contexts["cases"].database  # the served node's database, by its settings
        keys = database.keystore = KeyStore(settings.keystore_database_url)
        try:
            sender = Ed25519PrivateKey.generate()
            seed_directory(database, sender)
            yield Served(origin, settings, database, sender)
        finally:
            database.dispose()
            keys.dispose()


@pytest.fixture
def visit(served: Served) -> Iterator[Visit]:
    """A German browser that may only talk to the node."""
    watch = Watch(served.origin + "/")
    with chromium() as browser:
        yield Visit(watch.page(browser.new_context(locale="de-DE")), served.origin)
    watch.assert_clean()


def test_the_lead_hands_a_case_over_and_answers_incoming_ones(served: Served, visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    sign_in(page, origin, "Integrationsmanager/in – Stuttgart (manager-stuttgart-1)")
    case_id = open_case(page, origin)
    expect(page.get_by_role("link", name="Übergabe an eine andere Kommune")).to_have_count(0)
    sign_out(page)

    sign_in(page, origin, LEAD)
    page.goto(f"{origin}/cases/{case_id}")
    page.locator("#privacy").get_by_role("link", name="Übergabe an eine andere Kommune").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Übergabe an eine andere Kommune")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amina Haddad")
    visit.accessible("the hand-over form")
    page.get_by_role("button", name="Fall übergeben").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("the hand-over form with errors")
    page.get_by_label("Kommune, in die die Person zieht").select_option("08221000")
    page.get_by_label("Die Person hat eingewilligt und zieht dorthin: Den Fall jetzt übergeben").check()
    page.get_by_role("button", name="Fall übergeben").click()
    expect(page.locator(".error-summary")).to_contain_text("die Einwilligung in die Übergabe an eine andere Kommune")
    visit.accessible("the hand-over form without the client's consent")
    page.get_by_role("link", name="Erfassen Sie die Einwilligung in die Übergabe auf der Fallseite").click()
    section = page.locator("#privacy")
    section.get_by_label("Übergabe an eine andere Kommune").check()
    section.get_by_label("Schriftlich").check()
    section.get_by_role("button", name="Einwilligung erfassen").click()
    expect(page.locator("#flash")).to_contain_text("Die Einwilligung wurde erfasst.")
    page.locator("#privacy").get_by_role("link", name="Übergabe an eine andere Kommune").click()
    page.get_by_label("Kommune, in die die Person zieht").select_option("08221000")
    page.get_by_label("Die Person hat eingewilligt und zieht dorthin: Den Fall jetzt übergeben").check()
    page.get_by_role("button", name="Fall übergeben").click()
    expect(page.locator("#flash")).to_contain_text("Der Fall wurde gesendet.")
    expect(page.locator("#handovers")).to_contain_text("Gesendet: Die Antwort steht aus")
    expect(page.get_by_role("link", name="Übergaben", exact=True)).to_have_attribute("aria-current", "page")
    visit.accessible("the hand-overs sent")

    # two cases and a tampered parcel arrive from node-b
    deliver(served.database, served.settings, served.sender, "Leyla", "Umzugsfrau")
    deliver(served.database, served.settings, served.sender, "Omid", "Ablehnmann")
    deliver(served.database, served.settings, Ed25519PrivateKey.generate(), "Falsch", "Versiegelt")
    page.get_by_role("link", name="An Ihre Kommune übergeben").click()
    table = page.locator("#handovers")
    expect(table).to_contain_text("Leyla Umzugsfrau")
    expect(table).to_contain_text("Zurückgewiesen")
    visit.accessible("the hand-overs received")
    omid = page.locator("section", has_text="Omid Ablehnmann, aus Heidelberg")
    omid.get_by_role("button", name="Ablehnen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("the hand-overs received, declining unconfirmed")
    page.get_by_role("link", name="Bestätigen Sie, dass die Übergabe abgelehnt werden soll").click()
    page.locator("section", has_text="Omid Ablehnmann, aus Heidelberg").get_by_label(
        "Diese Übergabe ablehnen: Die abgebende Kommune behält den Fall").check()
    page.locator("section", has_text="Omid Ablehnmann, aus Heidelberg").get_by_role("button", name="Ablehnen").click()
    expect(page.locator("#flash")).to_contain_text("Die Übergabe wurde abgelehnt.")
    expect(page.locator("main")).not_to_contain_text("Ablehnmann")
    leyla = page.locator("section", has_text="Leyla Umzugsfrau, aus Heidelberg")
    leyla.get_by_label("In wessen Fallbestand wird der Fall eröffnet?").fill("manager-stuttgart-1")
    leyla.get_by_role("button", name="Annehmen und Fall hier eröffnen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leyla Umzugsfrau")
    expect(page.locator("#flash")).to_contain_text("Der Fall wurde hier eröffnet.")
    visit.accessible("the case opened by the hand-over")
