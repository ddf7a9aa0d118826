"""The plan as an agreement in real Chromium: steps and a referral, the agreement, versions, the inbox in German,
the lead's audit trail; axe-core finds nothing on any of these pages; no request leaves the node."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from shared import clock
from tests.browser.conftest import Visit, needs_chromium, visiting
from tests.browser.test_web_manager import inbox_confirms_the_case

pytestmark = needs_chromium


@pytest.fixture
def visit(serve: Callable[..., str]) -> Iterator[Visit]:
    with visiting(serve(services=["cases", "plans", "notifications"])) as visit:
        yield visit


def sign_in(visit: Visit, who: str) -> None:
    page = visit.page
    page.goto(visit.origin + "/login")
    page.get_by_label(who).check()
    page.get_by_role("button", name="Anmelden").click()


def test_steps_agreement_versions_inbox_and_audit_pass_axe(visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    sign_in(visit, "Integrationsmanager/in – Stuttgart (manager-stuttgart-1)")
    page.get_by_role("link", name="Fall eröffnen").click()
    for label, value in (("Vorname", "Amina"), ("Familienname", "Haddad"), ("Geburtsdatum", "27.03.1990"),
                         ("Staatsangehörigkeit", "SYR"), ("Sprachen", "ar, de"), ("Personen im Haushalt", "3"),
                         ("In der Anschlussunterbringung seit", "01.09.2025")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Fall eröffnen").click()
    expect(page.locator("#plan-version")).to_have_text("1")
    page.get_by_label("Handlungsfeld").select_option("language")
    page.get_by_label("Ziel", exact=True).fill("Deutschkurs B1 mit Zertifikat")
    page.get_by_role("button", name="Ziel hinzufügen").click()
    expect(page.locator("#plan-version")).to_have_text("2")
    visit.accessible("case page with the plan's links")

    page.get_by_role("link", name=re.compile("^0 Schritte")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Deutschkurs B1 mit Zertifikat")
    visit.accessible("steps, none yet")
    page.get_by_label("Eine Partnerstelle").check()
    page.get_by_role("button", name="Schritt hinzufügen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("steps, with errors")
    page.get_by_label("Was", exact=True).fill("Termin beim Sprachkursträger")
    page.get_by_label("Partnerstelle (bei einer Vermittlung)").select_option("language_course_provider")
    page.get_by_role("button", name="Schritt hinzufügen").click()
    expect(page.locator("#flash")).to_contain_text("Der Schritt wurde hinzugefügt.")
    page.get_by_label("Stand des Schritts „Termin beim Sprachkursträger“").select_option("accepted")
    page.get_by_role("button", name=re.compile("^Ändern")).click()
    expect(page.locator("#steps")).to_contain_text("Sprachkursträger")
    visit.accessible("steps, a referral accepted")

    page.get_by_role("link", name="Zurück zum Plan").click()
    page.get_by_role("link", name="Vereinbarung und Überprüfung").click()
    visit.accessible("agreement")
    page.get_by_label("Erklärt auf").select_option("ar")
    page.get_by_role("button", name="Vereinbarung festhalten").click()
    expect(page.locator("#versions")).to_contain_text(f"vereinbart am {clock.today():%d.%m.%Y}, erklärt auf Arabisch")
    visit.accessible("versions")
    page.get_by_role("link", name="Fassung 1").click()
    expect(page.locator("#version-status")).to_contain_text("auf Papier unterschrieben: ja")
    visit.accessible("version 1")
    page.get_by_role("link", name="Zurück zu den Fassungen").click()
    page.get_by_role("link", name="Zurück zum Plan").click()
    page.get_by_role("link", name="Vereinbarung und Überprüfung").click()
    visit.accessible("agreement, agreed: the review form")
    inbox_confirms_the_case(visit)
    expect(page.locator(".inbox")).to_contain_text("eröffnet; Sie betreuen ihn.")

    page.get_by_role("button", name="Abmelden").click()
    sign_in(visit, "Teamleitung – Stuttgart (lead-stuttgart)")
    page.goto(origin + "/cases")
    page.get_by_role("link", name="Haddad, Amina").click()
    page.get_by_role("link", name="Protokoll der Zugriffe auf den Fall und seinen Plan").click()
    expect(page.locator("#audit")).to_contain_text("Zustimmung festgehalten")
    expect(page.locator("#audit")).to_contain_text("Fall eröffnet")
    visit.accessible("the case's audit trail")
