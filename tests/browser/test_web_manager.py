"""A manager's day in real Chromium: sign in, open a case, record a consultation, work on the plan, sign out.

Once with the mouse and once by keyboard alone; axe-core finds nothing on any page; no request leaves the node.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Visit, needs_chromium, visiting

pytestmark = needs_chromium


@pytest.fixture
def visit(serve: Callable[..., str]) -> Iterator[Visit]:
    """A node with cases, plans and notifications, and a German browser that may only talk to it."""
    with visiting(serve(services=["cases", "plans", "notifications"])) as visit:
        yield visit


def version(page: Page) -> int:
    return int(page.locator("#plan-version").inner_text())


def test_a_manager_works_a_case_with_the_mouse(visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    page.goto(origin + "/")
    expect(page).to_have_url(origin + "/login")
    visit.accessible("sign-in")
    page.get_by_label("Integrationsmanager/in – Stuttgart (manager-stuttgart-1)").check()
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Fälle")
    visit.accessible("empty caseload")

    page.get_by_role("link", name="Fall eröffnen").click()
    visit.accessible("open a case")
    page.get_by_role("button", name="Fall eröffnen").click()  # nothing filled in
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("open a case, with errors")
    page.get_by_role("link", name="Geben Sie den Vornamen ein").click()
    expect(page.get_by_label("Vorname")).to_be_focused()
    for label, value in (("Vorname", "Amina"), ("Familienname", "Haddad"), ("Geburtsdatum", "27.03.1990"),
                         ("Staatsangehörigkeit", "SYR"), ("Sprachen", "ar, de"), ("Personen im Haushalt", "3"),
                         ("In der Anschlussunterbringung seit", "01.09.2025")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Fall eröffnen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amina Haddad")
    expect(page.locator("#flash")).to_contain_text("Der Fall wurde eröffnet.")
    expect(page.locator("#plan-version")).to_have_text("1")  # the plans service made the plan; HTMX fetched it
    visit.accessible("case page")

    page.get_by_role("button", name="Beratung erfassen").click()  # without duration, mode, topics
    expect(page.locator("#consultations .error-summary")).to_be_focused()
    visit.accessible("case page, consultation with errors")
    page.get_by_label("Dauer in Minuten").fill("45")
    page.get_by_label("Aufsuchende Beratung").check()
    page.get_by_label("Arbeit").check()
    page.get_by_label("Wohnen").check()
    page.get_by_label("Notiz (freiwillig)").fill("Bewerbung besprochen")
    page.get_by_role("button", name="Beratung erfassen").click()
    expect(page.locator("#flash")).to_contain_text("Die Beratung wurde erfasst.")
    expect(page.locator("#consultations tbody tr")).to_have_count(1)
    expect(page.locator("#consultations tbody")).to_contain_text("Arbeit, Wohnen")
    visit.accessible("case page, consultation recorded")

    page.get_by_label("Handlungsfeld").select_option("language")
    page.get_by_label("Ziel", exact=True).fill("Deutschkurs B1 mit Zertifikat")
    page.get_by_label("Zieldatum (freiwillig)").fill("30.06.2027")
    page.get_by_role("button", name="Ziel hinzufügen").click()
    expect(page.locator("#plan-version")).to_have_text("2")
    expect(page.locator("#plan tbody")).to_contain_text("30.06.2027")
    page.get_by_label("Status des Ziels „Deutschkurs B1 mit Zertifikat“").select_option("in_progress")
    page.get_by_role("button", name=re.compile("^Ändern")).click()
    expect(page.locator("#plan-version")).to_have_text("3")
    expect(page.locator("#flash")).to_contain_text("Der Status des Ziels wurde geändert.")
    visit.accessible("case page, goal changed")

    page.get_by_role("link", name="Zurück zu den Fällen").click()
    expect(page.get_by_role("link", name="Haddad, Amina")).to_be_visible()
    visit.accessible("caseload")
    inbox_confirms_the_case(visit)
    page.get_by_role("button", name="Als gelesen markieren").first.click()
    expect(page.locator(".badge")).to_have_count(0)
    visit.accessible("inbox, read")
    page.get_by_role("button", name="Abmelden").click()
    expect(page.locator("#flash")).to_contain_text("Sie haben sich abgemeldet.")
    visit.accessible("signed out")
    page.goto(origin + "/cases")
    expect(page).to_have_url(origin + "/login")
    assert len(visit.checked) == 12


def inbox_confirms_the_case(visit: Visit, keyboard: bool = False) -> None:
    """The inbox shows the case_opened confirmation (the notifications service's work: may take a moment)."""
    page = visit.page
    deadline = time.monotonic() + 20
    while True:
        if keyboard:
            tab_to(page, page.get_by_role("link", name=re.compile("^Posteingang")))
            page.keyboard.press("Enter")
        else:
            page.get_by_role("link", name=re.compile("^Posteingang")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Posteingang")
        if page.get_by_text("Fall eröffnet").count():
            break
        assert time.monotonic() < deadline, "no confirmation of the opened case in the inbox"
        time.sleep(0.5)
    expect(page.locator(".badge")).to_have_text("1 ungelesen")
    visit.accessible("inbox")


def focused(locator: Locator) -> bool:
    return bool(locator.evaluate("element => element === document.activeElement"))


def tab_to(page: Page, target: Locator, limit: int = 120) -> None:
    """Press Tab (only the keyboard) until the target has the focus; fail if it is never reached."""
    for _ in range(limit):
        if focused(target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_a_manager_works_a_case_by_keyboard_alone(visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    keys = page.keyboard
    page.goto(origin + "/login")
    keys.press("Tab")
    expect(page.get_by_role("link", name="Zum Hauptinhalt springen")).to_be_focused()  # the skip link comes first
    tab_to(page, page.get_by_label("Integrationsmanager/in – Stuttgart (manager-stuttgart-1)"))
    keys.press("Space")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Anmelden")).to_be_focused()
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Fälle")
    visit.accessible("caseload")

    tab_to(page, page.get_by_role("link", name="Fall eröffnen"))
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fall eröffnen")
    tab_to(page, page.get_by_label("Vorname"))
    for value in ("Olena", "Kovalenko", "14.08.1985", "UKR", "uk, ru", "2"):
        keys.type(value)
        keys.press("Tab")
    expect(page.get_by_label("Anschlussunterbringung", exact=True)).to_be_focused()  # the checked radio
    keys.press("ArrowDown")
    expect(page.get_by_label("Vorübergehender Schutz (Ukraine)")).to_be_checked()
    tab_to(page, page.get_by_label("Vorübergehender Schutz erteilt am"))
    keys.type("15.04.2024")
    tab_to(page, page.get_by_label("Kind", exact=True))
    keys.type("1")
    tab_to(page, page.get_by_role("button", name="Fall eröffnen"))
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Olena Kovalenko")
    expect(page.locator("dl.summary").first).to_contain_text("Vorübergehender Schutz (Ukraine), seit 15.04.2024")
    expect(page.locator("#plan-version")).to_have_text("1")
    visit.accessible("case page")

    tab_to(page, page.get_by_label("Dauer in Minuten"))
    keys.type("30")
    keys.press("Tab")
    expect(page.get_by_label("Im Büro")).to_be_focused()  # the first of the radios
    keys.press("ArrowDown")  # moves to and checks "Aufsuchende Beratung"
    expect(page.get_by_label("Aufsuchende Beratung")).to_be_checked()
    tab_to(page, page.get_by_label("Sprache", exact=True))
    keys.press("Space")
    tab_to(page, page.get_by_label("Notiz (freiwillig)"))
    keys.type("Kita-Platz gesucht")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Beratung erfassen")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Die Beratung wurde erfasst.")
    expect(page.locator("#consultations tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Beratung erfassen")).to_be_focused()  # focus stays where it was
    visit.accessible("case page, consultation recorded")

    tab_to(page, page.get_by_label("Handlungsfeld"))
    keys.press("ArrowDown")  # from "Handlungsfeld wählen" to the first area, "Sprache"
    expect(page.get_by_label("Handlungsfeld")).to_have_value("language")
    keys.press("Tab")
    keys.type("Deutschkurs B1")
    keys.press("Tab")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Ziel hinzufügen")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#plan-version")).to_have_text("2")
    status = page.get_by_label("Status des Ziels „Deutschkurs B1“")
    tab_to(page, status)
    keys.press("ArrowDown")
    expect(status).to_have_value("in_progress")
    keys.press("Tab")
    keys.press("Enter")
    expect(page.locator("#plan-version")).to_have_text("3")
    visit.accessible("case page, goal changed")

    inbox_confirms_the_case(visit, keyboard=True)
    tab_to(page, page.get_by_role("button", name="Als gelesen markieren").first)
    keys.press("Enter")
    expect(page.locator(".badge")).to_have_count(0)
    expect(page.locator(".notification").first).to_be_focused()  # the answer's part takes the focus
    tab_to(page, page.get_by_role("button", name="Abmelden"))
    keys.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Sie haben sich abgemeldet.")
    visit.accessible("signed out")


def test_a_lead_extends_the_counselling_period_once(visit: Visit) -> None:
    page, origin = visit.page, visit.origin
    page.goto(origin + "/login")
    page.get_by_label("Integrationsmanager/in – Stuttgart (manager-stuttgart-1)").check()
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_role("link", name="Fall eröffnen").click()
    for label, value in (("Vorname", "Yusuf"), ("Familienname", "Demir"), ("Geburtsdatum", "02.02.1980"),
                         ("Staatsangehörigkeit", "SYR"), ("Personen im Haushalt", "2"),
                         ("In der Anschlussunterbringung seit", "01.09.2023"), ("Partner/in", "1")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Fall eröffnen").click()
    expect(page.locator("#counselling")).to_contain_text("sobald die erste Beratung erfasst ist")
    page.get_by_label("Datum", exact=True).fill("02.03.2024")
    page.get_by_label("Dauer in Minuten").fill("60")
    page.get_by_label("Im Büro").check()
    page.get_by_label("Wohnen").check()
    page.get_by_role("button", name="Beratung erfassen").click()
    expect(page.locator("#counselling-ends")).to_have_text("02.03.2027")  # swapped in with the consultation
    case_url = page.url
    page.get_by_role("button", name="Abmelden").click()

    page.get_by_label("Teamleitung – Stuttgart (lead-stuttgart)").check()
    page.get_by_role("button", name="Anmelden").click()
    page.goto(case_url)
    visit.accessible("case page, lead, counselling period")
    page.get_by_role("button", name="Beratung verlängern").click()  # no justification
    expect(page.locator("#counselling .error-summary")).to_be_focused()
    visit.accessible("case page, extension with errors")
    page.get_by_label("Begründung").fill("Ausbildung zur Pflegefachkraft beginnt erst im Herbst")
    page.get_by_role("button", name="Beratung verlängern").click()
    expect(page.locator("#flash")).to_contain_text("Die Beratung wurde auf vier Jahre verlängert.")
    expect(page.locator("#counselling-ends")).to_have_text("02.03.2028")
    expect(page.get_by_role("button", name="Beratung verlängern")).to_have_count(0)
    visit.accessible("case page, counselling extended")

    page.get_by_role("link", name="Persönliche Daten ändern").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Persönliche Daten ändern")
    visit.accessible("change the personal data")
    page.get_by_label("Geburtsdatum").fill("31.02.1980")
    page.get_by_role("button", name="Änderungen speichern").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("change the personal data, with errors")
    page.get_by_label("Geburtsdatum").fill("03.02.1980")
    page.get_by_role("button", name="Änderungen speichern").click()
    expect(page.locator("#flash")).to_contain_text("Die persönlichen Daten wurden geändert.")
    expect(page.locator("dl.summary").first).to_contain_text("03.02.1980")

    page.get_by_label("Integrationsmanager/in", exact=True).fill("manager-stuttgart-2")
    page.get_by_role("button", name="Fall übergeben").click()
    expect(page.locator("#flash")).to_contain_text("Der Fall wurde übergeben.")
    expect(page.locator("dl.summary").first).to_contain_text("manager-stuttgart-2")
    visit.accessible("case page, handed over")

    page.get_by_role("link", name="Zurück zu den Fällen").click()
    page.get_by_label("Name oder Geburtsdatum").fill("D")
    page.get_by_role("button", name="Fälle anzeigen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    visit.accessible("caseload search, too short")
    page.get_by_label("Name oder Geburtsdatum").fill("03.02.1980")
    page.get_by_label("Integrationsmanager/in", exact=True).select_option("manager-stuttgart-2")
    page.get_by_role("button", name="Fälle anzeigen").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Demir, Yusuf")
    visit.accessible("caseload searched by birth date and manager")

    page.goto(origin + "/team")
    expect(page.locator("table[aria-labelledby=caseloads-title]")).to_contain_text("manager-stuttgart-2")
    visit.accessible("team figures with caseloads")
