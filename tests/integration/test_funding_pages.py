"""The lead's pages (start, caseload, team figures, positions, applying) and the funding officer's (queue, decide)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from services.funding.terms import add_months
from shared import clock
from shared.events import STREAMS, Contract, Envelope, envelope_for, new_event_id
from shared.events.codes import PositionStatus
from shared.events.funding import ExtensionApplied, ExtensionDecided, ExtensionKind, PositionRegistered
from tests.integration.test_web_pages import CASE_FORM, CSP, csrf_of, open_case, sign_in
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually
from web.session import COOKIE, SessionCodec, WebSession, session_key
from web.session import clock as session_clock

FUNDING, CASES = "/api/funding/v1", "/api/cases/v1"
TODAY = clock.today()
STARTS, ENDS = date(TODAY.year - 1, 3, 1), date(TODAY.year + 1, 8, 31)
JUSTIFICATION = "Die Stelle ist besetzt, der Beratungsbedarf in der Anschlussunterbringung wächst weiter."
MISSING = "01JZZZZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans", "funding", "notifications")


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def browser(node: NodeHandle) -> TestClient:
    """A browser of its own (its own cookie jar) on the running node."""
    return TestClient(node.client.app)


def signed_in_with(node: NodeHandle, sub: str, role: str, tenants: list[str]) -> tuple[TestClient, str]:
    """A browser whose session holds a user the picker does not offer (a lead of two municipalities)."""
    client = browser(node)
    key = session_key(Path(node.settings.data_dir) / "keys" / "web-session.key")
    session = WebSession(csrf="csrf-token-of-the-test", token=node.token(sub, role, tenants=tenants), sub=sub,
                         roles=[role], tenants=tenants, last_seen=session_clock())
    client.cookies.set(COOKIE, SessionCodec(key, 1800).dump(session))
    return client, session.csrf


def consult(node: NodeHandle, tenant: str = STUTTGART, cases: int = 1, times: int = 1, **body: Any) -> None:
    manager = node.headers(f"manager-{tenant}", "manager", tenants=[tenant])
    for _ in range(cases):
        r = node.client.post(f"{CASES}/cases", headers=manager, json={
            "given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
            "languages": ["ar"], "household_size": 2, "accommodation_since": "2024-02-01"})
        assert r.status_code == 201, r.text
        for _ in range(times):
            held = {"held_on": (TODAY - timedelta(days=1)).isoformat(), "duration_minutes": 30, "mode": "office",
                    "topics": ["work"], **body}
            assert node.client.post(f"{CASES}/cases/{r.json()['id']}/consultations", headers=manager,
                                    json=held).status_code == 201


def position(node: NodeHandle, tenant: str = STUTTGART, **body: Any) -> dict[str, Any]:
    lead = node.headers(f"lead-{tenant}", "lead", tenants=[tenant])
    values = {"fte": 0.5, "starts_on": STARTS.isoformat(), "ends_on": ENDS.isoformat(), **body}
    r = node.client.post(f"{FUNDING}/positions", headers=lead, json=values)
    assert r.status_code == 201, r.text
    return dict(r.json())


def summary_links(html: str) -> list[str]:
    return re.findall(r'<li><a href="(#f-[a-z_]+)">', html)


# -- the lead ---------------------------------------------------------------------------------
def test_a_leads_start_page_links_their_pages_and_a_manager_still_starts_at_the_caseload(node: NodeHandle) -> None:
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    start = lead.get("/", follow_redirects=False)
    assert start.status_code == 200
    for link in ('href="/cases"', 'href="/team"', 'href="/positions"', 'href="/inbox"'):
        assert link in start.text, link
    assert 'href="/applications"' not in start.text
    assert "Zahlen des Teams" in start.text and "Stellen" in start.text
    manager = browser(node)
    sign_in(manager, "manager-stuttgart-1")
    assert manager.get("/", follow_redirects=False).headers["location"] == "/cases"
    assert 'href="/team"' not in manager.get("/cases").text
    assert manager.get("/team").status_code == 403  # the API refuses a manager the team's figures


def test_a_lead_sees_every_case_of_the_municipality(node: NodeHandle) -> None:
    for sub, name in (("manager-stuttgart-1", "Haddad"), ("manager-stuttgart-2", "Rahimi")):
        manager = browser(node)
        open_case(manager, sign_in(manager, sub), family_name=name)
    heidelberg = browser(node)
    open_case(heidelberg, sign_in(heidelberg, "manager-heidelberg-1"), family_name="Kovalenko")
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    caseload = lead.get("/cases").text
    assert "Haddad, Amina" in caseload and "Rahimi, Amina" in caseload and "Kovalenko" not in caseload
    assert "manager-stuttgart-1" in caseload and "manager-stuttgart-2" in caseload  # the manager column
    case_id = re.search(r'href="/cases/([0-9A-Z]{26})">Rahimi', caseload).group(1)  # type: ignore[union-attr]
    assert CASE_FORM["given_name"] in lead.get(f"/cases/{case_id}").text


def test_the_team_figures_change_with_the_teams_work_and_withhold_small_cells(node: NodeHandle) -> None:
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    empty = lead.get("/team")
    assert empty.status_code == 200 and "Keine Beratung in diesem Zeitraum" in empty.text
    consult(node, cases=5)
    consult(node, cases=1, times=2, mode="phone", topics=["health", "work"])
    consult(node, HEIDELBERG, cases=6)  # another municipality's work is not in Stuttgart's figures
    figures = lead.get("/team").text
    assert re.search(r'id="consultations-total">7<', figures)
    assert re.search(r'id="open-cases">6<', figures)
    # 2 by phone are withheld, and office with them (it would be the total minus phone); health too
    assert figures.count('<span class="withheld">zurückgehalten</span>') >= 4
    mode = figures[figures.index('id="table-by_mode"'):figures.index("</table>", figures.index('id="table-by_mode"'))]
    assert "Im Büro" in mode and "7" not in mode
    # every chart is an image with a name and a description, and a table holds the same figures
    assert figures.count('<svg class="chart" role="img"') == 5
    assert "Zurückgehalten: Im Büro, Telefonisch" in figures
    assert figures.count('<table class="table"') == 5  # the four charts' tables and the caseloads
    assert 'aria-labelledby="caseloads-title"' in figures
    consult(node, cases=1)  # the manager's next consultation
    assert re.search(r'id="consultations-total">8<', lead.get("/team").text)
    # a window without consultations
    assert "Keine Beratung" in lead.get("/team", params={"from": "01.01.2000", "to": "31.12.2000"}).text
    wrong = lead.get("/team", params={"from": "gestern", "to": "01.01.2000", "tenant": HEIDELBERG})
    assert wrong.status_code == 422 and summary_links(wrong.text) == ["#f-tenant", "#f-from"]
    backwards = lead.get("/team", params={"from": "02.01.2026", "to": "01.01.2026"})
    assert backwards.status_code == 422 and 'href="#f-to">Bis: ' in backwards.text


def test_a_lead_of_two_municipalities_chooses_one(node: NodeHandle) -> None:
    consult(node, HEIDELBERG, cases=5)
    lead, _ = signed_in_with(node, "lead-both", "lead", [STUTTGART, HEIDELBERG])
    first = lead.get("/team").text  # the first by name: Heidelberg
    assert '<select class="select" id="f-tenant" name="tenant"' in first
    assert '<option value="08221000" selected>Heidelberg</option>' in first
    assert re.search(r'id="consultations-total">5<', first)
    stuttgart = lead.get("/team", params={"tenant": STUTTGART}).text
    assert '<option value="08111000" selected>Stuttgart</option>' in stuttgart
    assert "Keine Beratung in diesem Zeitraum" in stuttgart


def test_the_register_shows_status_fte_term_and_occupancy(node: NodeHandle) -> None:
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    assert "Für Ihre Kommune ist noch keine Stelle erfasst" in lead.get("/positions").text
    lead_api = node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])
    occupied = position(node, fte=0.75)
    r = node.client.post(f"{FUNDING}/positions/{occupied['id']}/occupancy", headers=lead_api,
                         json={"occupied": True, "since": (STARTS + timedelta(days=14)).isoformat()})
    assert r.status_code == 200
    ended = position(node, fte=1.0, starts_on=(TODAY - timedelta(days=800)).isoformat(),
                     ends_on=(TODAY - timedelta(days=1)).isoformat())
    position(node, HEIDELBERG)  # not Stuttgart's
    register = lead.get("/positions").text
    assert "2 Stellen" in register and "0,75 VZÄ ab" in register and "1 VZÄ ab" in register
    assert "Besetzt" in register and f"seit {(STARTS + timedelta(days=14)):%d.%m.%Y}" in register
    assert f"{ENDS:%d.%m.%Y}" in register and "Beendet" in register
    assert register.count(">Verlängerung beantragen<") == 1  # not for the ended one
    assert f'href="/positions/{occupied["id"]}/extension"' in register
    assert f'href="/positions/{ended["id"]}/extension"' not in register
    by_fte = lead.get("/positions", params={"sort": "fte"}).text
    assert by_fte.index(ended["id"]) < by_fte.index(occupied["id"]) and 'aria-sort="descending"' in by_fte
    page = lead.get(f"/positions/{occupied['id']}").text
    assert "Noch keine Verlängerung beantragt." in page and f'id="ends-on">{ENDS:%d.%m.%Y}' in page


def test_a_lead_applies_for_an_extension_and_errors_name_their_fields(node: NodeHandle, redis: Redis) -> None:
    target = position(node)
    lead = browser(node)
    csrf = sign_in(lead, "lead-stuttgart")
    url = f"/positions/{target['id']}/extension"
    form = lead.get(url)
    assert form.status_code == 200 and 'name="justification"' in form.text
    assert f"Die Laufzeit endet am {ENDS:%d.%m.%Y}." in form.text
    empty = lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months"})
    assert empty.status_code == 422 and summary_links(empty.text) == ["#f-justification"]
    assert 'href="#f-justification">Geben Sie die Begründung ein</a>' in empty.text
    assert 'aria-describedby="f-justification-hint f-justification-error" aria-invalid="true"' in empty.text
    short = lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months", "justification": " zu kurz "})
    assert "mindestens 20 Zeichen" in short.text and ">zu kurz</textarea>" in short.text
    interruption = {"csrf_token": csrf, "kind": "interruption_12_months", "justification": JUSTIFICATION}
    undated = lead.post(url, data=interruption)
    assert summary_links(undated.text) == ["#f-interruption_from", "#f-interruption_to"]
    outside = lead.post(url, data={**interruption, "interruption_from": f"{STARTS - timedelta(days=1):%d.%m.%Y}",
                                   "interruption_to": f"{ENDS + timedelta(days=1):%d.%m.%Y}"})
    assert summary_links(outside.text) == ["#f-interruption_from", "#f-interruption_to"]
    assert f"vor Beginn der Laufzeit der Stelle ({STARTS:%d.%m.%Y})" in outside.text
    backwards = lead.post(url, data={**interruption, "interruption_from": "01.05.2026",
                                     "interruption_to": "01.04.2026"})
    assert 'href="#f-interruption_to">Die Unterbrechung muss nach ihrem Beginn enden' in backwards.text
    unknown_kind = lead.post(url, data={"csrf_token": csrf, "kind": "forever", "justification": JUSTIFICATION})
    assert unknown_kind.status_code == 422 and summary_links(unknown_kind.text) == ["#f-kind"]

    # dates typed before choosing 24 months are not sent (the API would refuse them)
    sent = lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months", "justification": JUSTIFICATION,
                                "interruption_from": "01.03.2026"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/positions/{target['id']}#applications"
    page = lead.get(f"/positions/{target['id']}").text
    assert "Ihr Antrag wurde an das Land gesendet." in page and JUSTIFICATION in page
    assert "Entscheidung ausstehend" in page and "Verlängerung um 24 Monate" in page
    assert ">Verlängerung beantragen<" not in page
    assert "Entscheidung des Landes ausstehend" in lead.get("/positions").text
    again = lead.get(url).text
    assert "Für die Stelle liegt bereits ein Antrag vor" in again and 'name="justification"' not in again
    refused = lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months", "justification": JUSTIFICATION})
    assert refused.status_code == 422 and "Für die Stelle liegt bereits ein Antrag vor" in refused.text

    # the state rejects with a reason: the position's page and the lead's inbox show it
    (application,) = node.call("GET", f"{FUNDING}/positions/{target['id']}/extension-applications",
                               as_=node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])).json()
    decide(redis, application, approved=False, reason="Haushaltsmittel 2027 ausgeschöpft")
    page = eventually(lambda: (t := lead.get(f"/positions/{target['id']}").text) and "Abgelehnt" in t and t)
    assert "Haushaltsmittel 2027 ausgeschöpft" in page and f'id="ends-on">{ENDS:%d.%m.%Y}' in page
    inbox = eventually(lambda: (t := lead.get("/inbox").text) and "Verlängerung entschieden" in t and t)
    assert "rejected" in inbox or "abgelehnt" in inbox  # the notification's text, in either language
    # a new application, this time after an interruption: approved, the term moves by 12 months
    sent = lead.post(url, data={**interruption, "interruption_from": f"{STARTS:%d.%m.%Y}",
                                "interruption_to": f"{STARTS + timedelta(days=60):%d.%m.%Y}"}, follow_redirects=False)
    assert sent.status_code == 303
    latest = node.call("GET", f"{FUNDING}/positions/{target['id']}/extension-applications",
                       as_=node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])).json()[0]
    assert (latest["kind"], latest["interruption_from"]) == ("interruption_12_months", STARTS.isoformat())
    decide(redis, latest, approved=True, reason="Unterbrechung nachgewiesen")
    moved = add_months(ENDS, 12)
    # "Bewilligt" is on the page before (the position's own approval): wait for this decision's reason and the
    # moved end date (the page reads the position and its applications in two API calls, two snapshots)
    ends = f'id="ends-on">{moved:%d.%m.%Y}'
    page = eventually(lambda: (t := lead.get(f"/positions/{target['id']}").text) and "Unterbrechung nachgewiesen"
                      in t and ends in t and t)
    assert "Bewilligt" in page
    assert f"{ENDS:%d.%m.%Y}, verlängert bis {moved:%d.%m.%Y}" in page


def decide(redis: Redis, application: dict[str, Any], *, approved: bool, reason: str) -> None:
    """The state's decision as the federation link delivers it to the municipal node."""
    env = envelope_for(ExtensionDecided(application_id=application["id"], position_id=application["position_id"],
                                        approved=approved, decided_on=TODAY, reason=reason),
                       tenant=application["tenant"], node="state", aggregate_id=application["position_id"],
                       target_node="test-node")
    redis.xadd(STREAMS["federation"], {"event": env.to_json()})


def test_another_municipalitys_position_looks_like_a_missing_one(node: NodeHandle) -> None:
    theirs = position(node, HEIDELBERG)
    lead = browser(node)
    csrf = sign_in(lead, "lead-stuttgart")
    for path in ("/positions/{}", "/positions/{}/extension"):
        foreign, missing = lead.get(path.format(theirs["id"])), lead.get(path.format(MISSING))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.text.replace(theirs["id"], "ID") == missing.text.replace(MISSING, "ID")
    assert lead.get("/positions/not-an-id").status_code == 404
    posted = lead.post(f"/positions/{theirs['id']}/extension",
                       data={"csrf_token": csrf, "justification": JUSTIFICATION})
    assert posted.status_code == 404
    assert node.call("GET", f"{FUNDING}/positions/{theirs['id']}/extension-applications",
                     as_=node.headers("lead-heidelberg", "lead", tenants=[HEIDELBERG])).json() == []


def test_an_application_without_the_csrf_token_is_refused(node: NodeHandle) -> None:
    target = position(node)
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    refused = lead.post(f"/positions/{target['id']}/extension", data={"justification": JUSTIFICATION})
    assert refused.status_code == 403 and "Das Formular wurde nicht angenommen" in refused.text
    unchanged = node.call("GET", f"{FUNDING}/positions/{target['id']}",
                          as_=node.headers("lead-stuttgart", "lead", tenants=[STUTTGART]))
    assert unchanged.json()["open_application_id"] is None


def test_a_decision_without_the_csrf_token_is_refused(state: NodeHandle, redis: Redis) -> None:
    app_id = applied(redis, STUTTGART)
    received(state, app_id)
    officer = browser(state)
    sign_in(officer, "funding-officer")
    assert officer.post(f"/applications/{app_id}/decision", data={"approved": "yes"}).status_code == 403
    assert state.call("GET", f"{FUNDING}/extension-applications/{app_id}",
                      as_=state.headers("f", "funding_officer")).json()["status"] == "submitted"


# -- the funding officer ----------------------------------------------------------------------
def inbound(redis: Redis, payload: Contract, *, node: str, tenant: str, aggregate_id: str) -> None:
    """An event as the federation link republishes it on the state's bus (its state projection)."""
    projection = payload.state_projection(lambda s: hashlib.sha256(s.encode()).hexdigest())
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant, node=node,
                   aggregate_id=aggregate_id, scope=payload.scope, payload=projection)
    redis.xadd(STREAMS["funding"], {"event": env.to_json()})


def applied(redis: Redis, tenant: str, *, node: str = "node-a", justification: str | None = JUSTIFICATION,
            applied_on: date = TODAY, **v2: Any) -> str:
    """A municipal node registered a position and applied to extend it; the application's id."""
    position_id, application_id = new_event_id(), new_event_id()
    inbound(redis, PositionRegistered(position_id=position_id, fte=0.5, starts_on=STARTS, ends_on=ENDS,
                                      status=PositionStatus.occupied), node=node, tenant=tenant,
            aggregate_id=position_id)
    inbound(redis, ExtensionApplied(application_id=application_id, position_id=position_id, applied_on=applied_on,
                                    current_ends_on=ENDS, requested_ends_on=add_months(ENDS, 24),
                                    justification=justification, **v2), node=node, tenant=tenant,
            aggregate_id=position_id)
    return application_id


def received(state: NodeHandle, *ids: str) -> None:
    officer = state.headers("f", "funding_officer")
    eventually(lambda: all(state.call("GET", f"{FUNDING}/extension-applications/{i}", as_=officer).status_code
                           == 200 for i in ids))


def test_the_officer_reads_the_justification_and_decides_with_a_reason(state: NodeHandle, redis: Redis) -> None:
    long_text = "Begründung " * 60 + "ENDE-DER-BEGRÜNDUNG"
    first = applied(redis, STUTTGART, justification=long_text, applied_on=TODAY - timedelta(days=3))
    second = applied(redis, "08999999", node="node-b", justification=None, kind=ExtensionKind.interruption_12_months,
                     interruption_from=STARTS, interruption_to=STARTS + timedelta(days=30))
    received(state, first, second)
    officer = browser(state)
    sign_in(officer, "funding-officer")
    start = officer.get("/", follow_redirects=False)
    assert start.status_code == 200 and 'href="/applications"' in start.text and 'href="/team"' not in start.text
    queue = officer.get("/applications").text
    assert "2 Anträge warten auf eine Entscheidung" in queue
    assert queue.index(first) < queue.index(second)  # oldest first
    assert "Stuttgart" in queue and "AGS 08111000" in queue and "08999999" in queue  # a name when known
    assert "Verlängerung um 24 Monate" in queue and "Verlängerung um 12 Monate nach Unterbrechung" in queue
    assert "Begründung Begründung" in queue and "ENDE-DER-BEGRÜNDUNG" not in queue  # an excerpt
    assert "(keine: beantragt, bevor Begründungen erfragt wurden)" in queue

    page = officer.get(f"/applications/{first}")
    assert page.status_code == 200 and "ENDE-DER-BEGRÜNDUNG" in page.text  # all of it
    csrf = csrf_of(page.text)
    url = f"/applications/{first}/decision"
    undecided = officer.post(url, data={"csrf_token": csrf, "reason": "egal"})
    assert undecided.status_code == 422 and summary_links(undecided.text) == ["#f-approved"]
    no_reason = officer.post(url, data={"csrf_token": csrf, "approved": "no", "reason": "   "})
    assert no_reason.status_code == 422 and summary_links(no_reason.text) == ["#f-reason"]
    assert 'href="#f-reason">Geben Sie die Begründung der Ablehnung ein' in no_reason.text
    assert 'id="f-approved-2" name="approved" type="radio" value="no" checked' in no_reason.text
    assert state.call("GET", f"{FUNDING}/extension-applications/{first}",
                      as_=state.headers("f", "funding_officer")).json()["status"] == "submitted"

    approved = officer.post(url, data={"csrf_token": csrf, "approved": "yes", "reason": "Bedarf belegt"},
                            follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"] == "/applications"
    queue = officer.get("/applications").text
    assert "Der Antrag wurde bewilligt." in queue and first not in queue and second in queue
    rejected = officer.post(f"/applications/{second}/decision",
                            data={"csrf_token": csrf, "approved": "no", "reason": "Unterbrechung nicht belegt"},
                            follow_redirects=False)
    assert rejected.status_code == 303
    assert "Kein Antrag wartet auf eine Entscheidung" in officer.get("/applications").text
    decided = officer.get("/applications/decided").text
    assert "2 entschiedene Anträge" in decided and "Bedarf belegt" in decided
    assert "Unterbrechung nicht belegt" in decided
    assert "Bewilligt" in decided and "Abgelehnt" in decided and "funding-officer" in decided
    done = officer.get(f"/applications/{first}").text
    assert 'name="approved"' not in done and "Bedarf belegt" in done
    late = officer.post(url, data={"csrf_token": csrf, "approved": "no", "reason": "doch nicht"})
    assert late.status_code == 422
    assert "Über den Antrag wurde bereits entschieden, oder er wurde zurückgezogen." in late.text
    # what went down to the applying nodes
    down = {Envelope.model_validate_json(f[b"event"]).payload["application_id"]: Envelope.model_validate_json(
        f[b"event"]).payload for n in ("node-a", "node-b") for _, f in redis.xrange(f"lotse:fed:down:{n}")}
    assert (down[first]["approved"], down[first]["reason"]) == (True, "Bedarf belegt")
    assert (down[second]["approved"], down[second]["reason"]) == (False, "Unterbrechung nicht belegt")


def test_the_state_operator_reads_the_queue_but_cannot_decide(state: NodeHandle, redis: Redis) -> None:
    app_id = applied(redis, STUTTGART)
    received(state, app_id)
    operator = browser(state)
    csrf = sign_in(operator, "state-operator")
    assert app_id in operator.get("/applications").text
    refused = operator.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes"})
    assert refused.status_code == 403
    for path in (f"/applications/{MISSING}", "/applications/no%20such", "/applications/" + "x" * 101):
        assert operator.get(path).status_code == 404, path



def test_the_leads_pages_carry_the_security_headers_and_nothing_inline(node: NodeHandle) -> None:
    target = position(node)
    lead = browser(node)
    sign_in(lead, "lead-stuttgart")
    for path in ("/", "/team", "/positions", f"/positions/{target['id']}", f"/positions/{target['id']}/extension"):
        answer = lead.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-security-policy"] == CSP and answer.headers["cache-control"] == "no-store"
        assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", answer.text), path
