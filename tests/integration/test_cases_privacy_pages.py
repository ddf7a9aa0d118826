"""The data-protection pages through the web app: consents on the case page, break-glass by case number."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from shared import clock
from tests.integration.test_web_pages import MISSING, csrf_of, open_case, other_browser, sign_in
from tests.nodes import NodeHandle, eventually

TODAY = clock.today().strftime("%d.%m.%Y")
REASON = "Frau Weber ist krank, die Klientin braucht heute Hilfe"


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans", "notifications")


def test_a_manager_records_the_information_sheet_and_consents_and_a_withdrawal(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    page = node.client.get(f"/cases/{case_id}")
    assert "Datenschutz" in page.text and "Es ist keine Einwilligung erfasst." in page.text
    empty = node.client.post(f"/cases/{case_id}/consents", data={"purpose": "partner_sharing", "csrf_token": csrf})
    assert empty.status_code == 422
    assert 'href="#f-k-partner">Geben Sie die Partnerstelle an, an die Daten gehen dürfen</a>' in empty.text
    assert 'href="#f-k-form">Wählen Sie, wie die Einwilligung erteilt wurde</a>' in empty.text
    future = node.client.post(f"/cases/{case_id}/information-sheets", data={
        "handed_on": "01.01.2999", "language": "ar", "csrf_token": csrf})
    assert future.status_code == 422 and 'href="#f-i-handed_on">Ausgehändigt am: darf nicht in der Zukunft liegen' \
        in future.text
    done = node.client.post(f"/cases/{case_id}/information-sheets", data={
        "handed_on": TODAY, "language": "ar", "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case_id}#privacy"
    done = node.client.post(f"/cases/{case_id}/consents", data={
        "purpose": "partner_sharing", "partner": "Jobcenter Stuttgart", "given_on": TODAY, "form": "written",
        "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = node.client.get(f"/cases/{case_id}")
    assert f"Ausgehändigt am {TODAY} auf Arabisch" in page.text
    assert "Weitergabe an eine Partnerstelle: Jobcenter Stuttgart" in page.text and "Gültig" in page.text
    consent_id = page.text.split(f"/cases/{case_id}/consents/")[1].split("/withdraw")[0]
    withdrawn = node.client.post(f"/cases/{case_id}/consents/{consent_id}/withdraw", data={"csrf_token": csrf})
    assert withdrawn.status_code == 200 and f"Widerrufen am {TODAY}" in withdrawn.text  # after the redirect
    assert "Der Widerruf wurde erfasst." in withdrawn.text


def test_break_glass_keeps_the_404_rule_and_opens_a_case_with_a_reason(node: NodeHandle) -> None:
    owner = other_browser(node)
    case_id = open_case(owner, sign_in(owner, "manager-stuttgart-1"))
    stand_in = other_browser(node)
    csrf = sign_in(stand_in, "manager-stuttgart-2")
    foreign, missing = stand_in.get(f"/cases/{case_id}"), stand_in.get(f"/cases/{MISSING}")
    # both offer the same way to break-glass: the "not found" page cannot tell them apart
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text.replace(case_id, "ID") == missing.text.replace(MISSING, "ID")
    assert 'href="/break-glass"' in foreign.text
    form = stand_in.get("/break-glass")
    assert form.status_code == 200 and "Fall in Vertretung öffnen" in form.text
    for number, reason, field, message in [
        ("", REASON, "case_id", "Geben Sie die Fallnummer ein"),
        (case_id, "", "reason", "Geben Sie an, warum Sie diesen Fall jetzt brauchen"),
        (MISSING, REASON, "case_id", "In Ihrer Kommune gibt es keinen offenen Fall mit dieser Nummer"),
        (case_id, "zu kurz", "reason", "Warum brauchen Sie diesen Fall jetzt?: muss mindestens 10 Zeichen lang sein"),
    ]:
        answer = stand_in.post("/break-glass", data={"case_id": number, "reason": reason, "csrf_token": csrf})
        assert answer.status_code == 422, (number, reason)
        assert f'href="#f-{field}">{message}' in answer.text, (field, re.findall(r"href=\"#f-[^<]*", answer.text))
    opened = stand_in.post("/break-glass", data={"case_id": case_id.lower(), "reason": REASON, "csrf_token": csrf},
                           follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/cases/{case_id}"
    page = stand_in.get(f"/cases/{case_id}")
    assert page.status_code == 200 and 'id="stand-in"' in page.text and "Amina" in page.text
    # the lead reads who opened it, in their inbox
    lead = other_browser(node)
    sign_in(lead, "lead-stuttgart")
    inbox = eventually(lambda: (text := lead.get("/inbox").text) and "in Vertretung geöffnet" in text and text)
    assert "manager-stuttgart-2 hat einen Fall außerhalb des eigenen Fallbestands" in inbox
    assert "Weber" not in inbox
    # a lead is not offered break-glass (they see every case of the municipality)
    assert lead.get("/break-glass").status_code == 403
    assert 'href="/break-glass"' not in lead.get(f"/cases/{MISSING}").text
    assert csrf_of(page.text)


def test_the_lead_answers_an_access_request_from_the_case_page(node: NodeHandle) -> None:
    owner = other_browser(node)
    case_id = open_case(owner, sign_in(owner, "manager-stuttgart-1"))
    stand_in = other_browser(node)
    csrf = sign_in(stand_in, "manager-stuttgart-2")
    stand_in.post("/break-glass", data={"case_id": case_id, "reason": REASON, "csrf_token": csrf})
    lead = other_browser(node)
    sign_in(lead, "lead-stuttgart")
    assert f'href="/cases/{case_id}/export"' in lead.get(f"/cases/{case_id}").text
    page = lead.get(f"/cases/{case_id}/export")
    assert page.status_code == 200 and "Auskunftsersuchen" in page.text
    assert "manager-stuttgart-2" in page.text and REASON in page.text
    trail = lead.get(f"/cases/{case_id}/audit").text
    # the opening, then the case page the stand-in was sent to: the file, its consultations, its consents, and
    # its plan once the plans service has learnt of the access (BreakGlassOpened), since break-glass reaches it too
    assert trail.count("in Vertretung (Notfallzugriff)") in (4, 5)
    pdf = lead.get(f"/cases/{case_id}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="auskunft-{case_id}.pdf"'
    data = lead.get(f"/cases/{case_id}/export.json").json()
    assert data["case"]["id"] == case_id and data["break_glass"][0]["reason"] == REASON
    assert lead.get(f"/cases/{case_id}/export.xml").status_code == 404
    # a manager (even the case's own) is not offered it and is refused; another municipality sees nothing
    assert 'id="access-export"' not in owner.get(f"/cases/{case_id}").text
    assert owner.get(f"/cases/{case_id}/export").status_code == 403
    assert owner.get(f"/cases/{case_id}/export.pdf").status_code == 403
    other = other_browser(node)
    sign_in(other, "lead-heidelberg")
    assert other.get(f"/cases/{case_id}/export").status_code == 404
    assert other.get(f"/cases/{MISSING}/export.pdf").status_code == 404
