"""Casework pages on a real node: eligibility and household at opening, the counselling period and its extension."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from services.cases.counselling import years_after
from shared import clock
from tests.integration.test_web_pages import CASE_FORM, open_case, other_browser, sign_in
from tests.nodes import NodeHandle
from web.render import format_date

TODAY = clock.today()


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans", "notifications")


def test_opening_a_case_with_temporary_protection_and_household_members(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    refused = node.client.post("/cases/new", data={
        **CASE_FORM, "accommodation_since": "", "eligibility": "temporary_protection_ukraine", "eligible_since": "",
        "members_child": "zwei", "csrf_token": csrf})
    assert refused.status_code == 422
    assert 'href="#f-eligible_since"' in refused.text and 'href="#f-household_members"' in refused.text
    early = node.client.post("/cases/new", data={
        **CASE_FORM, "accommodation_since": "", "eligibility": "temporary_protection_ukraine",
        "eligible_since": "01.01.2022", "csrf_token": csrf})
    assert early.status_code == 422 and "2022-03-04" in early.text  # the API's reason, at the field
    case_id = open_case(node.client, csrf, accommodation_since="", eligibility="temporary_protection_ukraine",
                        eligible_since="11.04.2022", members_child="1", members_partner="1")
    shown = node.client.get(f"/cases/{case_id}").text
    assert "Vorübergehender Schutz (Ukraine), seit 11.04.2022" in shown
    assert "Partner/in, Kind" in shown
    assert "Das Enddatum erscheint hier, sobald die erste Beratung erfasst ist" in shown


def test_the_counselling_end_shows_and_the_lead_extends_it_once(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    first = TODAY - timedelta(days=20)
    recorded = node.client.post(f"/cases/{case_id}/consultations", data={
        "held_on": format_date(first), "duration_minutes": "30", "mode": "office", "topics": "housing",
        "csrf_token": csrf}, follow_redirects=False)
    assert recorded.status_code == 303
    page = node.client.get(f"/cases/{case_id}").text
    assert f'<dd id="counselling-ends">{format_date(years_after(first, 3))}</dd>' in page
    assert "extend-counselling" not in page  # a manager is not offered the extension
    part = node.client.post(f"/cases/{case_id}/consultations", headers={"HX-Request": "true", "X-CSRF-Token": csrf},
                            data={"held_on": format_date(TODAY), "duration_minutes": "30", "mode": "office",
                                  "topics": "housing"}).text
    assert '<section id="counselling" class="section" aria-labelledby="counselling-title" hx-swap-oob="true">' in part

    lead = other_browser(node)
    lead_csrf = sign_in(lead, "lead-stuttgart")
    assert 'id="extend-counselling"' in lead.get(f"/cases/{case_id}").text
    empty = lead.post(f"/cases/{case_id}/counselling-extension", data={"justification": "", "csrf_token": lead_csrf})
    assert empty.status_code == 422 and 'href="#f-x-justification"' in empty.text
    done = lead.post(f"/cases/{case_id}/counselling-extension", data={
        "justification": "Ausbildung beginnt erst im Herbst", "csrf_token": lead_csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("#counselling")
    page = lead.get(f"/cases/{case_id}").text
    assert f'<dd id="counselling-ends">{format_date(years_after(first, 4))}</dd>' in page
    assert "Ausbildung beginnt erst im Herbst" in page and 'id="extend-counselling"' not in page
    again = lead.post(f"/cases/{case_id}/counselling-extension", data={
        "justification": "Noch ein Jahr bitte, wirklich", "csrf_token": lead_csrf})
    assert again.status_code == 422 and "only once" in again.text


def test_the_personal_data_is_corrected_through_its_own_page(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    form = node.client.get(f"/cases/{case_id}/edit").text
    assert 'value="Haddad"' in form and 'value="27.03.1990"' in form and 'value="ar, de"' in form
    fields = {"given_name": "Amina", "family_name": "Haddad-Nasser", "birth_date": "28.03.1990",
              "nationality": "syr", "languages": "ar", "household_size": "3", "accommodation_since": "01.09.2025"}
    wrong = node.client.post(f"/cases/{case_id}/edit", data={**fields, "birth_date": "morgen", "csrf_token": csrf})
    assert wrong.status_code == 422 and 'href="#f-birth_date"' in wrong.text
    refused = node.client.post(f"/cases/{case_id}/edit", data={**fields, "accommodation_since": "", "csrf_token": csrf})
    assert refused.status_code == 422 and 'href="#f-accommodation_since"' in refused.text  # the API's reason
    saved = node.client.post(f"/cases/{case_id}/edit", data={**fields, "csrf_token": csrf}, follow_redirects=False)
    assert saved.status_code == 303
    shown = node.client.get(f"/cases/{case_id}").text
    assert "Amina Haddad-Nasser" in shown and "28.03.1990" in shown
    assert "Die persönlichen Daten wurden geändert." in shown


def test_the_lead_hands_a_case_over_and_it_moves_between_caseloads(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf, family_name="Uebergabe")
    colleague = other_browser(node)
    open_case(colleague, sign_in(colleague, "manager-stuttgart-2"), family_name="Eigenfall")
    assert "Uebergabe" in node.client.get("/cases").text and "Uebergabe" not in colleague.get("/cases").text

    lead = other_browser(node)
    lead_csrf = sign_in(lead, "lead-stuttgart")
    page = lead.get(f"/cases/{case_id}").text
    assert 'id="reassign-case"' in page and '<option value="manager-stuttgart-2">' in page
    assert '<option value="manager-stuttgart-1">' not in page  # the current manager is not suggested
    assert 'id="reassign-case"' not in node.client.get(f"/cases/{case_id}").text  # only the lead hands over
    same = lead.post(f"/cases/{case_id}/reassign", data={"manager": "manager-stuttgart-1", "csrf_token": lead_csrf})
    assert same.status_code == 422 and 'href="#f-r-manager"' in same.text
    done = lead.post(f"/cases/{case_id}/reassign", data={"manager": "manager-stuttgart-2", "csrf_token": lead_csrf},
                     follow_redirects=False)
    assert done.status_code == 303
    assert "Uebergabe" not in node.client.get("/cases").text and "Uebergabe" in colleague.get("/cases").text
    assert node.client.get(f"/cases/{case_id}").status_code == 404



def test_the_caseload_searches_through_the_api_by_name_or_birth_date(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    open_case(node.client, csrf)
    open_case(node.client, csrf, given_name="Yusuf", family_name="Rahimi", birth_date="02.02.1980")
    colleague = other_browser(node)
    open_case(colleague, sign_in(colleague, "manager-stuttgart-2"), given_name="Yusra", family_name="Rahimi")
    mine = node.client.get("/cases", params={"q": "rahimi"}).text
    assert "Rahimi, Yusuf" in mine and "Rahimi, Yusra" not in mine and "Haddad" not in mine
    assert "Rahimi, Yusuf" in node.client.get("/cases", params={"q": "02.02.1980"}).text
    short = node.client.get("/cases", params={"q": "r"})
    assert short.status_code == 422 and 'href="#f-q"' in short.text
    lead = other_browser(node)
    sign_in(lead, "lead-stuttgart")
    both = lead.get("/cases", params={"q": "Rahimi"}).text
    assert "Rahimi, Yusuf" in both and "Rahimi, Yusra" in both and "Jede Suche wird im Protokoll festgehalten" in both
    assert '<option value="manager-stuttgart-2">' in both  # the lead narrows by manager
    one = lead.get("/cases", params={"q": "Rahimi", "manager": "manager-stuttgart-2"}).text
    assert "Rahimi, Yusra" in one and "Rahimi, Yusuf" not in one


def test_the_team_page_lists_each_managers_caseload_with_a_link_to_it(node: NodeHandle) -> None:
    open_case(node.client, sign_in(node.client, "manager-stuttgart-1"))
    colleague = other_browser(node)
    csrf = sign_in(colleague, "manager-stuttgart-2")
    open_case(colleague, csrf)
    open_case(colleague, csrf)
    lead = other_browser(node)
    sign_in(lead, "lead-stuttgart")
    team = lead.get("/team").text
    assert '<a href="/cases?manager=manager-stuttgart-2">manager-stuttgart-2</a></td><td class="number">2</td>' in team
    assert '<a href="/cases?manager=manager-stuttgart-1">manager-stuttgart-1</a></td><td class="number">1</td>' in team
    assert lead.get("/cases?manager=manager-stuttgart-2").text.count('<a href="/cases/') == 2
