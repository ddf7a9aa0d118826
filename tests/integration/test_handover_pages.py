"""The hand-over pages through the web app: a lead sends a case to another municipality and answers incoming ones."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from nacl.public import PrivateKey

from services.cases.handover import DirectoryNode, on_parcel
from shared import clock
from shared.db import Database
from shared.events import envelope_for
from shared.events.handover import CaseHandedOver
from shared.federation.boxes import node_box_key, public_b64, seal
from shared.federation.crypto import public_key_b64
from shared.ids import new_id
from shared.settings import Settings
from tests.integration.test_web_pages import open_case, other_browser, sign_in
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle

TODAY = clock.today().strftime("%d.%m.%Y")
SENDER = "node-b"


@pytest.fixture
def sender() -> Ed25519PrivateKey:
    """node-b's Ed25519 key: it signs the cases handed over to this node."""
    return Ed25519PrivateKey.generate()


@pytest.fixture
def node(start_node: Callable[..., NodeHandle], sender: Ed25519PrivateKey) -> NodeHandle:
    """Stuttgart's node, whose directory names node-b serving Heidelberg (as the state would send it down)."""
    handle = start_node("cases", "plans", "notifications", tenants=[STUTTGART])
    seed_directory(handle.node.contexts["cases"].database, sender)
    return handle


def seed_directory(database: Database, sender: Ed25519PrivateKey) -> None:
    """The state's directory as it arrives on the node: node-b serves Heidelberg and signs with `sender`."""
    with database.session() as s:
        s.add(DirectoryNode(node_id=SENDER, tenants=[HEIDELBERG], box_key=public_b64(PrivateKey.generate()),
                            sign_key=public_key_b64(sender)))
        s.commit()


def summary(html: str) -> list[str]:
    """The error summary's entries as the page shows them: the field linked, then the message."""
    if 'class="error-summary"' not in html:
        return []
    return re.findall(r'<li><a href="#f-([^"]+)">([^<]*)</a>|<li>([^<]+)</li>',
                      html.split('class="error-summary"')[1].split("</ul>")[0])


def package(given: str, family: str) -> dict[str, Any]:
    """A case's parcel as services.cases.handover.package_of makes it: file, consultations, consents."""
    held = (clock.today() - timedelta(days=20)).isoformat()
    return {
        "case": {"given_name": given, "family_name": family, "birth_date": "1988-04-12", "nationality": "SYR",
                 "languages": ["ar", "de"], "household_size": 2, "household_members": [],
                 "eligibility": "follow_up_accommodation", "eligible_since": "2024-01-15",
                 "accommodation_since": "2024-01-15", "first_consultation_on": held, "counselling_ends_on": None,
                 "counselling_extended_on": None, "extension_justification": None, "opened_on": "2024-02-01"},
        "consultations": [{"held_on": held, "duration_minutes": 45, "mode": "office", "topics": ["work"],
                           "note": "Umzug nach Stuttgart vorbereitet"}],
        "consents": [{"purpose": "handover", "partner": None, "given_on": held, "form": "written"}],
    }


def deliver(database: Database, settings: Settings, key: Ed25519PrivateKey, given: str, family: str) -> str:
    """A case signed with `key`, sealed for this node, arriving from node-b as the federation stream hands it over."""
    handover_id = new_id()
    label = {"handover": handover_id, "part": "case", "from": SENDER, "to": settings.node_id}
    sealed = seal(key, public_b64(node_box_key(settings.data_dir)), label, package(given, family))
    parcel = CaseHandedOver(handover_id=handover_id, from_tenant=HEIDELBERG, to_node=settings.node_id,
                            to_tenant=STUTTGART, sealed=sealed)
    env = envelope_for(parcel, tenant=HEIDELBERG, node=SENDER, aggregate_id=handover_id)
    with database.session() as s:
        on_parcel(s, env, parcel, settings)
        s.commit()
    return handover_id


def browsers(node: NodeHandle) -> tuple[TestClient, str, TestClient, str]:
    manager, lead = other_browser(node), other_browser(node)
    return manager, sign_in(manager, "manager-stuttgart-1"), lead, sign_in(lead, "lead-stuttgart")


def test_the_lead_hands_a_case_over_once_the_client_consented(node: NodeHandle) -> None:
    manager, m_csrf, lead, csrf = browsers(node)
    case_id = open_case(manager, m_csrf)
    # a manager is offered neither the link nor the pages
    assert 'id="municipal-handover"' not in manager.get(f"/cases/{case_id}").text
    assert 'href="/handovers"' not in manager.get("/cases").text
    assert manager.get(f"/cases/{case_id}/handover").status_code == 403
    assert manager.post(f"/cases/{case_id}/handover", data={"to_tenant": HEIDELBERG, "confirm": "yes",
                                                             "csrf_token": m_csrf}).status_code == 403
    case_page = lead.get(f"/cases/{case_id}").text
    assert f'href="/cases/{case_id}/handover"' in case_page and 'href="/handovers"' in case_page

    form = lead.get(f"/cases/{case_id}/handover")
    assert form.status_code == 200 and "Amina Haddad" in form.text and "Ende-zu-Ende-verschlüsselt" in form.text
    assert "„An eine andere Stelle übergeben“" in form.text  # how the case closes here afterwards
    # the select offers the directory's municipality, with its AGS and node, and nothing else
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', form.text)
    assert options == [("", "Kommune wählen"), (HEIDELBERG, f"Heidelberg – AGS {HEIDELBERG}, Knoten node-b")]

    empty = lead.post(f"/cases/{case_id}/handover", data={"csrf_token": csrf})
    assert empty.status_code == 422
    assert summary(empty.text) == [("to_tenant", "Wählen Sie die Kommune, in die die Person zieht", ""),
                                   ("confirm", "Bestätigen Sie, dass der Fall übergeben werden soll", "")]
    chosen = {"to_tenant": HEIDELBERG, "confirm": "yes", "csrf_token": csrf}
    # without the client's consent: the API's reason, and the way to the consents section
    refused = lead.post(f"/cases/{case_id}/handover", data=chosen)
    assert refused.status_code == 422
    assert summary(refused.text) == [("consent", "die Einwilligung in die Übergabe an eine andere Kommune fehlt "
                                                 "(nicht erteilt oder widerrufen)", "")]
    assert f'<a class="link" href="/cases/{case_id}#privacy">' in refused.text
    assert 'id="f-to_tenant"' in refused.text and f'<option value="{HEIDELBERG}" selected>' in refused.text
    # this node's own municipality: refused by the API at the field
    own = lead.post(f"/cases/{case_id}/handover", data={**chosen, "to_tenant": STUTTGART})
    assert own.status_code == 422 and summary(own.text) == [("to_tenant", "Kommune, in die die Person zieht: dieser "
                                                             "Knoten betreut die Kommune bereits: Übergeben Sie den "
                                                             "Fall stattdessen an eine andere Fachkraft", "")]

    consent = manager.post(f"/cases/{case_id}/consents", data={
        "purpose": "handover", "given_on": TODAY, "form": "written", "csrf_token": m_csrf}, follow_redirects=False)
    assert consent.status_code == 303
    sent = lead.post(f"/cases/{case_id}/handover", data=chosen, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/handovers?direction=outgoing"
    outgoing = lead.get(sent.headers["location"]).text
    assert "Der Fall wurde gesendet. Er bleibt hier, bis die aufnehmende Kommune ihn annimmt." in outgoing
    rows = outgoing.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 1 and "Stuttgart" in rows and "Heidelberg" in rows
    assert "Gesendet: Die Antwort steht aus" in rows
    assert 'aria-current="page"><strong>Von Ihrer Kommune übergeben' in outgoing
    # the case stays open here until the answer, and is not sent twice
    assert 'id="municipal-handover"' in lead.get(f"/cases/{case_id}").text
    again = lead.post(f"/cases/{case_id}/handover", data=chosen)
    assert again.status_code == 422 and summary(again.text) == [
        ("", "", "der Fall wird bereits übergeben: Warten Sie die Antwort der aufnehmenden Kommune ab")]
    # nothing came in
    assert "Ihrer Kommune wurde kein Fall übergeben." in lead.get("/handovers").text
    # without a directory from the state, the page says so instead of offering a form
    with node.node.contexts["cases"].database.session() as s:
        s.delete(s.get_one(DirectoryNode, SENDER))
        s.commit()
    alone = lead.get(f"/cases/{case_id}/handover").text
    assert "Von diesem Knoten ist noch keine andere Kommune erreichbar" in alone
    assert f'action="/cases/{case_id}/handover"' not in alone


def test_the_lead_accepts_one_incoming_case_and_declines_another(node: NodeHandle, sender: Ed25519PrivateKey) -> None:
    manager, m_csrf, lead, csrf = browsers(node)
    database = node.node.contexts["cases"].database
    accepted = deliver(database, node.settings, sender, "Leyla", "Umzugsfrau")
    declined = deliver(database, node.settings, sender, "Omid", "Ablehnmann")
    # not sealed by node-b: refused on arrival
    deliver(database, node.settings, Ed25519PrivateKey.generate(), "Falsch", "Versiegelt")
    assert manager.get("/handovers").status_code == 403
    assert manager.post(f"/handovers/{accepted}/accept", data={"csrf_token": m_csrf}).status_code == 403

    page = lead.get("/handovers")
    assert page.status_code == 200 and 'aria-current="page"><strong>An Ihre Kommune übergeben' in page.text
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 3 and rows.count("Wartet auf Ihre Antwort") == 2
    assert "Leyla Umzugsfrau" in rows and "geboren am 12.04.1988, 1 Beratung" in rows
    assert "Zurückgewiesen" in rows and "die Sendung trägt nicht die Signatur des absendenden Knotens" in rows
    assert "Falsch" not in page.text  # a refused parcel names nobody
    assert f'action="/handovers/{accepted}/accept"' in page.text
    assert f'action="/handovers/{declined}/decline"' in page.text

    # declining asks for a confirmation first
    unconfirmed = lead.post(f"/handovers/{declined}/decline", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 422
    assert summary(unconfirmed.text) == [(f"d-{declined}-confirm",
                                          "Bestätigen Sie, dass die Übergabe abgelehnt werden soll", "")]
    done = lead.post(f"/handovers/{declined}/decline", data={"confirm": "yes", "csrf_token": csrf},
                     follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/handovers?direction=incoming"
    after = lead.get(done.headers["location"]).text
    assert "Die Übergabe wurde abgelehnt. Die abgebende Kommune behält den Fall." in after
    assert "Ablehnmann" not in after and ">Abgelehnt</span>" in after

    opened = lead.post(f"/handovers/{accepted}/accept", data={"manager": "manager-stuttgart-1", "csrf_token": csrf},
                       follow_redirects=False)
    assert opened.status_code == 303 and re.fullmatch(r"/cases/[0-9A-Z]{26}", opened.headers["location"])
    case_page = lead.get(opened.headers["location"]).text
    assert "Leyla Umzugsfrau" in case_page and "Der Fall wurde hier eröffnet." in case_page
    assert "Umzug nach Stuttgart vorbereitet" in case_page  # its history came with it
    # in the manager's caseload, as chosen
    assert "Leyla Umzugsfrau" in manager.get(opened.headers["location"]).text
    listed = lead.get("/handovers").text
    assert "Angenommen: Der Fall ist hier eröffnet" in listed and f'href="{opened.headers["location"]}"' in listed
    # answered once only
    twice = lead.post(f"/handovers/{accepted}/accept", data={"csrf_token": csrf})
    assert twice.status_code == 422 and summary(twice.text) == [("", "", "die Übergabe wurde bereits beantwortet")]
