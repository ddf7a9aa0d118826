"""The plan's pages on a real node: the case's merged audit trail for the lead, the inbox in German."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from shared import clock
from tests.integration.test_web_pages import open_case, partial_of, plan_id_of, sign_in
from tests.nodes import NodeHandle, eventually


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans", "notifications")


def test_the_lead_reads_the_case_and_plan_trail_merged_in_german(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    plan_id = plan_id_of(node, case_id)
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    part = partial_of(node.client.post(f"/plans/{plan_id}/goals", headers=htmx, data={
        "area": "language", "title": "Deutschkurs B1", "target_date": "30.06.2027"}))
    assert 'id="audit-link"' not in part  # the trail is the lead's
    assert node.client.get(f"/cases/{case_id}/audit").status_code == 403

    sign_in(node.client, "lead-stuttgart")
    assert 'id="audit-link"' in node.client.get(f"/cases/{case_id}").text
    page = node.client.get(f"/cases/{case_id}/audit")
    assert page.status_code == 200, page.text
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", page.text)
    seen = {(who, part, what) for _, who, part, what in rows}
    assert {("manager-stuttgart-1", "Fallakte", "Fall eröffnet"),
            ("manager-stuttgart-1", "Integrationsplan", "Ziel hinzugefügt"),
            ("manager-stuttgart-1", "Integrationsplan", "Plan gelesen"),
            ("lead-stuttgart", "Fallakte", "Fallakte gelesen"),
            ("lead-stuttgart", "Integrationsplan", "Plan gelesen")} <= seen
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}.*", when) for when, *_ in rows)
    assert [when for when, *_ in rows] == sorted((w for w, *_ in rows), key=lambda w: (w[6:10], w[3:5], w[:2], w[11:]),
                                                 reverse=True)
    assert "Deutschkurs" not in page.text
    assert node.client.get("/cases/01JZZZZZZZZZZZZZZZZZZZZZZZ/audit").status_code == 404


def test_the_inbox_says_each_notification_in_german_with_its_dates(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    plan_id = plan_id_of(node, case_id)
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    partial_of(node.client.post(f"/plans/{plan_id}/goals", headers=htmx, data={
        "area": "language", "title": "Deutschkurs B1", "target_date": "02.01.2026"}))

    def both() -> str | None:
        page = node.client.get("/inbox").text
        return page if "überfällig" in page and "eröffnet" in page else None

    page = eventually(both)
    today = clock.today().strftime("%d.%m.%Y")
    assert f"Der Fall wurde am {today} eröffnet; Sie betreuen ihn." in page
    assert f'href="/cases/{case_id}"' in page
    assert ("Ein Ziel im Handlungsfeld „Sprache“ ist seit dem 03.01.2026 überfällig (Zieldatum 02.01.2026); "
            "sein Stand ist „Nicht begonnen“.") in page
    assert f'href="/cases/{case_id}#plan"' in page
    assert '<p lang="en">' not in page and "Deutschkurs" not in page


def form(node: NodeHandle, path: str, csrf: str, **data: str) -> Any:
    return node.client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)


def test_steps_agreement_versions_review_and_print_without_javascript(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    plan_id = plan_id_of(node, case_id)
    added = form(node, f"/plans/{plan_id}/goals", csrf, area="work", title="Ausbildung finden",
                 target_date="30.06.2027")
    assert added.status_code == 303
    case_page = node.client.get(f"/cases/{case_id}").text
    steps_link = re.search(r'href="(/plans/[0-9A-Z]{26}/goals/[0-9A-Z]{26}/steps)"', case_page).group(1)  # type: ignore[union-attr]
    assert "0 Schritte" in case_page and "Fassung 1: Entwurf" in case_page

    refused = form(node, steps_link, csrf, what="", who="partner", partner_type="")
    assert refused.status_code == 422
    assert 'href="#f-what"' in refused.text and 'href="#f-partner_type"' in refused.text
    assert form(node, steps_link, csrf, what="Bewerbung schreiben", who="client",
                due_on="31.01.2027").status_code == 303
    assert form(node, steps_link, csrf, what="Termin beim Jobcenter", who="partner",
                partner_type="jobcenter").status_code == 303
    page = node.client.get(steps_link).text
    assert "Der Schritt wurde hinzugefügt." in page and "31.01.2027" in page and "Jobcenter" in page
    assert '<option value="referred" selected>Vermittelt</option>' in page
    referral_id = re.findall(r'id="status-([0-9A-Z]{26})"', page)[1]
    assert form(node, f"{steps_link}/{referral_id}/status", csrf, status="accepted").status_code == 303
    assert '<option value="accepted" selected>Angenommen</option>' in node.client.get(steps_link).text

    agreement = f"/plans/{plan_id}/agreement"
    assert "Zustimmung zu Fassung 1 festhalten" in node.client.get(agreement).text
    refused = form(node, agreement.replace("agreement", "agreements"), csrf, agreed_on="morgen", language="",
                   signed_on_paper="")
    assert refused.status_code == 422 and 'href="#f-agreed_on"' in refused.text and 'href="#f-language"' in refused.text
    today = clock.today().strftime("%d.%m.%Y")
    agreed = form(node, f"/plans/{plan_id}/agreements", csrf, agreed_on=today, language="ar", signed_on_paper="yes")
    assert agreed.status_code == 303 and agreed.headers["location"] == f"/plans/{plan_id}/versions"
    versions = node.client.get(f"/plans/{plan_id}/versions").text
    assert f"vereinbart am {today}, erklärt auf Arabisch, auf Papier unterschrieben: ja" in versions
    # a change after the agreement opens version 2 as a draft; version 1 stays readable as agreed
    assert form(node, f"{steps_link}/{referral_id}/status", csrf, status="done").status_code == 303
    versions = node.client.get(f"/plans/{plan_id}/versions").text
    assert re.search(r"Fassung 2</a> –\s+Entwurf, noch nicht vereinbart", versions)
    one = node.client.get(f"/plans/{plan_id}/versions/1").text
    assert "Termin beim Jobcenter – Jobcenter · Angenommen" in one
    two = node.client.get(f"/plans/{plan_id}/versions/2").text
    assert "Termin beim Jobcenter – Jobcenter · Erledigt" in two

    pdf = node.client.get(f"/plans/{plan_id}/print?lang=ar")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"

    reviewed = form(node, f"/plans/{plan_id}/reviews", csrf, reviewed_on=today, area="work", duration_minutes="30",
                    mode="office", next_review_on="")
    assert reviewed.status_code == 303, reviewed.text
    page = node.client.get(f"/cases/{case_id}").text
    assert "Die Überprüfung wurde als Beratung erfasst." in page
    assert page.count(today) >= 2  # the consultation the review became, and the dates of the plan
