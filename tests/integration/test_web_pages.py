"""The web app on a real node: sign-in, session cookie, CSRF, security headers, languages, the manager's pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from shared import clock
from tests.nodes import HEIDELBERG, NodeHandle, eventually

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MISSING = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
CASE_FORM = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "27.03.1990", "nationality": "SYR",
             "languages": "ar, de", "household_size": "3", "accommodation_since": "01.09.2025"}


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "every page carries the session's CSRF token"
    return match.group(1)


def sign_in(client: TestClient, sub: str) -> str:
    """Sign in with the picker as a browser would; the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"sub": sub, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/login").text)


def open_case(client: TestClient, csrf: str, **fields: str) -> str:
    answer = client.post("/cases/new", data={**CASE_FORM, **fields, "csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[1]


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans", "notifications")


def other_browser(node: NodeHandle) -> TestClient:
    """A second browser (its own cookie jar) on the same running node."""
    return TestClient(node.client.app)


def test_the_picker_signs_in_a_demo_user_with_a_safe_cookie(node: NodeHandle) -> None:
    client = node.client
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    picker = client.get("/login")
    assert picker.status_code == 200
    for sub in ("manager-stuttgart-1", "manager-stuttgart-2", "lead-stuttgart", "manager-heidelberg-1",
                "lead-heidelberg", "node-admin-test-node"):
        assert f'value="{sub}"' in picker.text
    cookie = picker.headers["set-cookie"]
    assert cookie.startswith("lotse_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the node listens on loopback only: plain http on this machine
    assert "csrf" not in cookie  # the contents are encrypted
    token = csrf_of(picker.text)
    chosen = client.post("/login", data={"sub": "manager-stuttgart-1", "csrf_token": token}, follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/cases"
    assert "manager-stuttgart-1" in client.get("/cases").text


def test_the_picker_refuses_anyone_not_on_it(node: NodeHandle) -> None:
    token = csrf_of(node.client.get("/login").text)
    answer = node.client.post("/login", data={"sub": "root", "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 422
    assert 'href="#f-sub"' in answer.text and "Wählen Sie eine Demo-Person" in answer.text
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"


def test_off_loopback_the_cookie_is_secure_and_with_an_issuer_there_is_no_picker(
        start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", http_host="0.0.0.0", oidc_issuer="https://id.example.org/realms/lotse")
    answer = node.client.get("/login", follow_redirects=False)
    # no picker: sign-in is at the issuer, which this test's node cannot reach
    assert answer.status_code == 503 and 'name="sub"' not in answer.text
    assert "Secure" in answer.headers["set-cookie"]
    assert node.client.post("/login", data={"sub": "manager-stuttgart-1"}).status_code in (403, 404)


def test_pages_carry_the_security_headers_and_are_never_stored(node: NodeHandle) -> None:
    sign_in(node.client, "manager-stuttgart-1")
    for path in ("/login", "/cases", "/cases/new", "/inbox", f"/cases/{MISSING}", "/no-such-page"):
        answer = node.client.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", answer.text), path  # nothing inline
    for asset in ("/assets/css/app.css", "/assets/js/app.js", "/assets/vendor/htmx/htmx.min.js"):
        answer = node.client.get(asset)
        assert answer.status_code == 200 and answer.headers["content-security-policy"] == CSP
        assert "no-store" not in answer.headers.get("cache-control", "")


def test_the_node_keeps_its_own_paths(node: NodeHandle) -> None:
    """The web app is mounted at /, yet the API, docs and health answer as before."""
    assert node.client.get("/api/cases/v1/cases").status_code == 401
    missing = node.client.get("/api/cases/v1/nothing-here", headers=node.headers("lead-1", "lead"))
    assert missing.json() == {"detail": "Not Found"}  # the API's answer (anonymous: 401, before any route)
    assert node.client.get("/healthz").json()["status"] == "alive"
    assert node.client.get("/docs").status_code == 200


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    for data, headers in (({**CASE_FORM}, {}), ({**CASE_FORM, "csrf_token": "forged"}, {}),
                          ({**CASE_FORM}, {"X-CSRF-Token": "forged", "HX-Request": "true"})):
        answer = node.client.post("/cases/new", data=data, headers=headers, follow_redirects=False)
        assert answer.status_code == 403
    refused = node.client.post("/cases/new", data=CASE_FORM)
    assert "Das Formular wurde nicht angenommen" in refused.text
    logout = node.client.post("/logout", follow_redirects=False)
    assert logout.status_code == 403  # signing out is a state change too
    cases = node.call("GET", "/api/cases/v1/cases", as_=node.headers("manager-stuttgart-1", "manager"))
    assert cases.json()["items"] == []
    # HTMX sends the token as a header instead of a form field: accepted.
    accepted = node.client.post("/cases/new", data=CASE_FORM, headers={"X-CSRF-Token": csrf},
                                follow_redirects=False)
    assert accepted.status_code == 303


def test_another_managers_or_tenants_case_looks_exactly_like_a_missing_one(node: NodeHandle) -> None:
    owner = other_browser(node)
    case_id = open_case(owner, sign_in(owner, "manager-stuttgart-1"))
    assert owner.get(f"/cases/{case_id}").status_code == 200
    for sub in ("manager-stuttgart-2", "lead-heidelberg"):
        browser = other_browser(node)
        sign_in(browser, sub)
        foreign, missing, garbage = (browser.get(f"/cases/{c}") for c in (case_id, MISSING, "not-an-id"))
        assert foreign.status_code == missing.status_code == garbage.status_code == 404
        # Byte for byte the same page, but for the address it was asked at (the language switch returns there).
        assert foreign.text.replace(case_id, "ID") == missing.text.replace(MISSING, "ID") == garbage.text.replace(
            "not-an-id", "ID")
        assert "Amina" not in foreign.text
        posted = browser.post(f"/cases/{case_id}/consultations", data={"csrf_token": csrf_of(foreign.text)})
        assert posted.status_code == 404
        assert posted.text.replace(f"{case_id}/consultations", "ID") == missing.text.replace(MISSING, "ID")


def test_the_apis_refusals_show_at_the_fields_they_name(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    tomorrow = (clock.today() + timedelta(days=1)).strftime("%d.%m.%Y")
    answer = node.client.post("/cases/new", data={**CASE_FORM, "birth_date": tomorrow, "languages": "arabic",
                                                  "csrf_token": csrf})
    assert answer.status_code == 422
    assert answer.text.count('class="error-summary"') == 1
    assert '<a href="#f-birth_date">Geburtsdatum: darf nicht in der Zukunft liegen</a>' in answer.text
    assert 'href="#f-languages"' in answer.text
    assert 'id="f-birth_date" name="birth_date" type="text" value="' + tomorrow + '"' in answer.text
    assert "<title>Fehler: Fall eröffnen – Lotse</title>" in answer.text
    empty = node.client.post("/cases/new", data={"csrf_token": csrf})
    assert 'href="#f-given_name">Geben Sie den Vornamen ein</a>' in empty.text
    assert 'aria-describedby="f-given_name-error" aria-invalid="true"' in empty.text


def partial_of(answer: Response) -> str:
    assert answer.status_code == 200, answer.text
    assert "<html" not in answer.text  # HTMX gets only the part it swaps
    return answer.text


def plan_id_of(node: NodeHandle, case_id: str) -> str:
    headers = node.headers("manager-stuttgart-1", "manager")
    plan = eventually(lambda: node.call("GET", f"/api/plans/v1/plans?case_id={case_id}", as_=headers).json()
                      .get("id"))
    return str(plan)


def test_a_manager_records_a_consultation_and_works_on_the_plan(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    assert "Der Fall wurde eröffnet." in node.client.get(f"/cases/{case_id}").text
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    consultation = {"held_on": "02.03.2026", "duration_minutes": "45", "mode": "outreach",
                    "topics": ["work", "housing"], "note": "Bewerbung besprochen"}
    part = partial_of(node.client.post(f"/cases/{case_id}/consultations", data=consultation, headers=htmx))
    assert part.startswith('<section id="consultations"') and "Aufsuchende Beratung" in part
    assert 'hx-swap-oob="innerHTML:#flash"' in part and "Die Beratung wurde erfasst." in part
    refused = node.client.post(f"/cases/{case_id}/consultations", data={"held_on": "x"}, headers=htmx)
    assert refused.status_code == 422 and 'href="#f-c-topics"' in refused.text
    # Without JavaScript: the same form posts, then the page comes back with the message.
    posted = node.client.post(f"/cases/{case_id}/consultations", data={**consultation, "csrf_token": csrf},
                              follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/cases/{case_id}#consultations"
    page = node.client.get(f"/cases/{case_id}").text
    listed = page.split('id="consultations"')[1]  # (the counselling period above names the first one too)
    assert listed.count("02.03.2026") == 2 and "Bewerbung besprochen" in listed

    plan_id = plan_id_of(node, case_id)
    part = partial_of(node.client.post(f"/plans/{plan_id}/goals", headers=htmx, data={
        "area": "language", "title": "Deutschkurs B1", "target_date": "30.06.2027"}))
    assert 'id="plan-version">2<' in part and "Deutschkurs B1" in part and "30.06.2027" in part
    goal_id = re.search(r'id="status-([0-9A-Z]{26})"', part).group(1)  # type: ignore[union-attr]
    part = partial_of(node.client.post(f"/plans/{plan_id}/goals/{goal_id}/status", headers=htmx,
                                       data={"status": "in_progress"}))
    assert 'id="plan-version">3<' in part
    assert '<option value="in_progress" selected>In Arbeit</option>' in part
    no_area = node.client.post(f"/plans/{plan_id}/goals", data={"title": "x", "csrf_token": csrf})
    assert no_area.status_code == 422 and 'href="#f-g-area">Wählen Sie das Handlungsfeld des Ziels' in no_area.text


def test_the_caseload_filters_by_status_and_searches_by_name(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    open_case(node.client, csrf)
    open_case(node.client, csrf, given_name="Yusuf", family_name="Rahimi")
    caseload = node.client.get("/cases").text
    assert "Haddad, Amina" in caseload and "Rahimi, Yusuf" in caseload and "2 Fälle auf dieser Seite" in caseload
    found = node.client.get("/cases", params={"q": "yus"}).text
    assert "Rahimi, Yusuf" in found and "Haddad" not in found
    assert "Kein Fall passt" in node.client.get("/cases", params={"status": "closed"}).text
    other = other_browser(node)
    sign_in(other, "manager-stuttgart-2")
    assert "Sie haben noch keine Fälle" in other.get("/cases").text
    api = node.headers("manager-stuttgart-2", "manager")
    for n in range(26):  # one more than a page
        body = {"given_name": f"Client{n:02d}", "family_name": "Test", "birth_date": "1990-01-01",
                "nationality": "SYR", "languages": [], "household_size": 1, "accommodation_since": "2024-01-01"}
        assert node.call("POST", "/api/cases/v1/cases", as_=api, json=body).status_code == 201
    first = other.get("/cases").text
    assert "25 Fälle auf dieser Seite" in first and "Client00" in first and "Client25" not in first
    following = re.search(r'href="(/cases\?cursor=[0-9A-Z]{26})">Nächste Fälle', first)
    assert following, "the page links to the next cases"
    second = other.get(following.group(1)).text
    assert "1 Fall auf dieser Seite" in second and "Client25" in second and 'href="/cases">Erste Seite' in second


def test_the_inbox_confirms_the_opened_case_and_counts_unread(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    open_case(node.client, csrf)

    def confirmed() -> str | None:
        page = node.client.get("/inbox").text
        return page if "Fall eröffnet" in page else None

    inbox = eventually(confirmed)
    assert '<span class="badge">1 ungelesen</span>' in inbox
    notification_id = re.search(r'id="n-([0-9A-Z]{26})"', inbox).group(1)  # type: ignore[union-attr]
    part = partial_of(node.client.post(f"/inbox/{notification_id}/read",
                                       headers={"HX-Request": "true", "X-CSRF-Token": csrf}))
    assert "Gelesen am" in part and '<span id="unread-count" hx-swap-oob="true"></span>' in part
    assert "badge" not in node.client.get("/inbox").text


def test_sign_out_and_the_idle_timeout_end_the_session(node: NodeHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    out = node.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert "Sie haben sich abgemeldet." in node.client.get("/login").text
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"

    sign_in(node.client, "manager-stuttgart-1")
    import web.session

    later: Any = web.session.clock() + 31 * 60
    monkeypatch.setattr(web.session, "clock", lambda: later)
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"
    assert "nach 30 Minuten ohne Aktivität abgemeldet" in node.client.get("/login").text
    assert node.client.get("/inbox", follow_redirects=False).headers["location"] == "/login"


def test_roles_without_case_pages_see_neither_cases_nor_their_link(node: NodeHandle) -> None:
    sign_in(node.client, "node-admin-test-node")
    start = node.client.get("/")
    assert start.status_code == 200 and 'href="/cases"' not in start.text
    assert node.client.get("/cases").status_code == 403


def test_a_manager_opens_cases_in_their_own_municipality(start_node: Callable[..., NodeHandle]) -> None:
    """A manager acts for one tenant: the form asks for the municipality only when there is a choice."""
    node = start_node("cases")
    csrf = sign_in(node.client, "manager-heidelberg-1")
    form = node.client.get("/cases/new").text
    assert 'name="tenant"' not in form
    case_id = open_case(node.client, csrf)
    case = node.call("GET", f"/api/cases/v1/cases/{case_id}",
                     as_=node.headers("manager-heidelberg-1", "manager", tenants=[HEIDELBERG]))
    assert case.json()["tenant"] == HEIDELBERG


def test_a_page_refreshing_itself_does_not_hold_the_session_open(
        node: NodeHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.session

    sign_in(node.client, "manager-stuttgart-1")
    start = web.session.clock()
    for minutes in (10, 20, 29):  # a poll every now and then, the user away
        monkeypatch.setattr(web.session, "clock", lambda m=minutes: start + m * 60)
        assert node.client.get("/inbox", headers={"X-Lotse-Poll": "1"}).status_code == 200
    monkeypatch.setattr(web.session, "clock", lambda: start + 31 * 60)
    assert node.client.get("/inbox", follow_redirects=False).headers["location"] == "/login"


def test_a_manager_edits_a_goals_title_and_target_date(node: NodeHandle) -> None:
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf)
    plan_id = plan_id_of(node, case_id)
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    part = partial_of(node.client.post(f"/plans/{plan_id}/goals", headers=htmx, data={
        "area": "language", "title": "Sprachkurs A2", "target_date": "30.06.2027"}))
    goal_id = re.search(r'id="edit-([0-9A-Z]{26})"', part).group(1)  # type: ignore[union-attr]
    edit = f"/plans/{plan_id}/goals/{goal_id}"
    # HTMX swaps just the goal's row for its form, filled with what the goal says now.
    row = partial_of(node.client.get(f"{edit}/edit", headers=htmx))
    assert row.startswith(f'<tr id="goal-{goal_id}">') and f'action="{edit}"' in row
    assert 'value="Sprachkurs A2"' in row and 'value="30.06.2027"' in row and "Ziel bearbeiten" in row
    part = partial_of(node.client.post(edit, headers=htmx, data={"title": " Deutschkurs C1 ",
                                                                  "target_date": "31.12.2027"}))
    assert 'id="plan-version">3<' in part and "Deutschkurs C1" in part and "31.12.2027" in part
    assert "Das Ziel wurde geändert." in part and "Sprachkurs A2" not in part
    # Errors at their fields, in the row's form; nothing changes.
    refused = node.client.post(edit, headers=htmx, data={"title": "", "target_date": "bald"})
    assert refused.status_code == 422 and 'href="#f-e-title">Geben Sie das Ziel ein' in refused.text
    assert 'href="#f-e-target_date"' in refused.text and 'id="plan-version">3<' in refused.text
    too_far = node.client.post(edit, headers=htmx, data={"title": "x", "target_date": "01.01.2099"})
    assert too_far.status_code == 422 and 'href="#f-e-target_date">Zieldatum' in too_far.text
    # Without JavaScript: the link opens the case page with the form, the form posts, the page comes back.
    page = node.client.get(f"{edit}/edit")
    assert page.status_code == 200 and "<html" in page.text and f'action="{edit}"' in page.text
    posted = node.client.post(edit, data={"title": "Deutschkurs C1", "target_date": "", "csrf_token": csrf},
                              follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/cases/{case_id}#plan"
    shown = node.client.get(f"/cases/{case_id}").text
    assert 'id="plan-version">4<' in shown and "Das Ziel wurde geändert." in shown and "31.12.2027" not in shown
    empty = node.client.post(edit, data={"title": "  ", "csrf_token": csrf})
    assert empty.status_code == 422 and "<html" in empty.text and 'href="#f-e-title"' in empty.text
    assert node.client.post(edit, data={"title": "x"}).status_code in (400, 403)  # no CSRF token
    assert node.client.get(f"/plans/{plan_id}/goals/{MISSING}/edit", headers=htmx).status_code == 404
