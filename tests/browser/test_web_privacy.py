"""The client's data-protection rights in real Chromium: consents on the case page, break-glass, the lead's view.

axe-core finds nothing on any of these pages; no request leaves the node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from shared import clock
from tests.browser.conftest import Visit, Watch, chromium, needs_chromium
from tests.integration.test_web_pages import CASE_FORM

pytestmark = needs_chromium
TODAY = clock.today().strftime("%d.%m.%Y")


@pytest.fixture
def visit(serve: Callable[..., str]) -> Iterator[Visit]:
    """A German browser that may only talk to the node; 404 answers are expected here (the 404 rule)."""
    origin = serve(services=["cases", "plans", "notifications"])
    watch = Watch(origin + "/")
    with chromium() as browser:
        yield Visit(watch.page(browser.new_context(locale="de-DE")), origin)
    watch.assert_clean(tolerated="the server responded with a status of 4")


def sign_in(page: Page, origin: str, who: str) -> None:
    page.goto(origin + "/login")
    page.get_by_label(who).check()
    page.get_by_role("button", name="Anmelden").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Abmelden").click()


def open_case(page: Page, origin: str) -> str:
    """Open a case as the signed-in manager, with the form's fields posted as the browser would."""
    page.goto(origin + "/cases/new")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(origin + "/cases/new", form={**CASE_FORM, "csrf_token": token or ""}, max_redirects=0)
    assert answer.status == 303
    page.goto(origin + answer.headers["location"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amina Haddad")
    return page.url.rsplit("/", 1)[1]


def test_consents_and_a_stand_in_and_the_lead_told(visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    sign_in(page, origin, "Integrationsmanager/in – Stuttgart (manager-stuttgart-1)")
    case_id = open_case(page, origin)
    section = page.locator("#privacy")
    expect(section.get_by_role("heading", name="Datenschutz", exact=True)).to_be_visible()
    section.get_by_label("Sprache des Merkblatts").select_option("ar")
    section.get_by_role("button", name="Merkblatt erfassen").click()
    expect(page.locator("#flash")).to_contain_text("Das Merkblatt wurde erfasst.")
    expect(page.locator("#privacy")).to_contain_text(f"Ausgehändigt am {TODAY} auf Arabisch")
    page.locator("#privacy").get_by_label("Weitergabe an eine Partnerstelle").check()
    page.locator("#privacy").get_by_role("button", name="Einwilligung erfassen").click()  # no partner, no form
    expect(page.locator("#privacy .error-summary")).to_be_visible()
    visit.accessible("case page, consent with errors")
    page.get_by_role("link", name="Geben Sie die Partnerstelle an, an die Daten gehen dürfen").click()
    expect(page.get_by_label("Partnerstelle", exact=True)).to_be_focused()
    page.get_by_label("Partnerstelle", exact=True).fill("Jobcenter Stuttgart")
    page.locator("#privacy").get_by_label("Schriftlich").check()
    page.locator("#privacy").get_by_role("button", name="Einwilligung erfassen").click()
    expect(page.locator("#flash")).to_contain_text("Die Einwilligung wurde erfasst.")
    expect(page.locator("#privacy table")).to_contain_text("Jobcenter Stuttgart")
    visit.accessible("case page with a consent")
    page.locator("#privacy").get_by_role("button", name="Widerruf heute erfassen").click()
    expect(page.locator("#privacy table")).to_contain_text(f"Widerrufen am {TODAY}")
    sign_out(page)

    sign_in(page, origin, "Integrationsmanager/in – Stuttgart (manager-stuttgart-2)")
    page.goto(f"{origin}/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Seite nicht gefunden")
    visit.accessible("not found, with the way to break-glass")
    page.get_by_role("link", name="Fall in Vertretung öffnen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fall in Vertretung öffnen")
    visit.accessible("break-glass form")
    page.get_by_role("button", name="Fall jetzt öffnen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("break-glass form with errors")
    page.get_by_label("Fallnummer").fill(case_id)
    page.get_by_label("Warum brauchen Sie diesen Fall jetzt?").fill("Frau Weber ist krank, Termin heute")
    page.get_by_role("button", name="Fall jetzt öffnen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amina Haddad")
    expect(page.locator("#stand-in")).to_contain_text("in Vertretung geöffnet")
    visit.accessible("case page as a stand-in")
    sign_out(page)

    sign_in(page, origin, "Teamleitung – Stuttgart (lead-stuttgart)")
    page.goto(origin + "/inbox")
    expect(page.locator("main")).to_contain_text("manager-stuttgart-2 hat einen Fall außerhalb des eigenen")
    visit.accessible("the lead's inbox with the break-glass notice")
    page.get_by_role("link", name="Vertretungszugriffe ansehen").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Auskunftsersuchen")
    expect(page.locator("#break-glass table")).to_contain_text("Frau Weber ist krank, Termin heute")
    visit.accessible("the lead's access request page with the break-glass record")
    with page.expect_download() as download:
        page.get_by_role("link", name="Als lesbares PDF herunterladen (Deutsch)", exact=True).click()
    assert download.value.suggested_filename == f"auskunft-{case_id}.pdf"
    with page.expect_download() as download:
        page.get_by_role("link", name="Den Teil des Plans als lesbares PDF herunterladen (Deutsch)").click()
    assert download.value.suggested_filename == f"auskunft-plan-{case_id}.pdf"
    page.get_by_role("link", name="Alle Zugriffe im Protokoll ansehen").click()
    expect(page.locator("#audit")).to_contain_text("in Vertretung (Notfallzugriff)")
    visit.accessible("the audit trail with break-glass accesses marked")

    # the client asks for erasure: the lead closes the case with its reason, then erases it
    page.goto(f"{origin}/cases/{case_id}")
    page.locator("#closing").get_by_role("button", name="Fall abschließen").click()  # no reason chosen
    expect(page.locator("#closing .error-summary")).to_be_visible()
    visit.accessible("case page, closing without a reason")
    page.locator("#closing").get_by_label("Die Person ist weggezogen").check()
    page.locator("#closing").get_by_role("button", name="Fall abschließen").click()
    expect(page.locator("#flash")).to_contain_text("Der Fall wurde abgeschlossen.")
    expect(page.locator("main")).to_contain_text("Die Person ist weggezogen")
    page.get_by_role("link", name="Daten auf Antrag löschen (Art. 17 DSGVO)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Daten der Klientin oder des Klienten löschen")
    visit.accessible("the erasure page")
    page.get_by_role("button", name="Daten löschen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("the erasure page with errors")
    page.get_by_label("Warum werden die Daten jetzt gelöscht?").fill("Schriftlicher Antrag vom heutigen Tag")
    page.get_by_label("Ich habe den Antrag geprüft: Die Daten jetzt auf diesem Knoten löschen").check()
    page.get_by_role("button", name="Daten löschen").click()
    expect(page.locator("#flash")).to_contain_text("Die personenbezogenen Daten wurden auf diesem Knoten gelöscht.")
    expect(page.locator("main")).not_to_contain_text("Amina Haddad")
    page.goto(f"{origin}/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Seite nicht gefunden")
