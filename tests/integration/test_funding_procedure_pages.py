"""The funding procedure's pages: the lead's grants, history, withdrawal and letter; the officer's years and budget."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from openpyxl import load_workbook
from redis import Redis

from services.funding.terms import add_months
from shared import clock
from shared.events import STREAMS, envelope_for, new_event_id
from shared.events.codes import PositionStatus
from shared.events.funding import (
    ExtensionApplied,
    ExtensionDecided,
    ExtensionKind,
    FundingYearSet,
    PositionRegistered,
    Qualification,
)
from shared.federation.keys import STATE_TENANT
from tests.integration.test_funding_pages import (
    ENDS,
    FUNDING,
    STARTS,
    applied,
    browser,
    decide,
    inbound,
    position,
    received,
    summary_links,
)
from tests.integration.test_web_pages import sign_in
from tests.nodes import STUTTGART, NodeHandle, eventually

YEAR = STARTS.year + 1  # a whole year of the term
RATES = {Qualification.vocational: 51_000, Qualification.academic: 60_000}
JUSTIFICATION_TEXT = "Die Zahl der Geflüchteten in der Anschlussunterbringung hat sich verdoppelt."


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", "notifications")


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def year_down(redis: Redis, year: int) -> None:
    """The state's funding year as the federation link delivers it to every node."""
    env = envelope_for(FundingYearSet(year=year, budget_eur=48_000_000, rates_eur=RATES), tenant=STATE_TENANT,
                       node="state", aggregate_id=f"year-{year}", target_node="*")
    redis.xadd(STREAMS["federation"], {"event": env.to_json()})


def test_the_lead_sees_grants_and_history_withdraws_and_opens_the_letter(node: NodeHandle, redis: Redis) -> None:
    year_down(redis, YEAR)
    lead_api = node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])
    eventually(lambda: node.call("GET", f"{FUNDING}/years/{YEAR}", as_=lead_api).status_code == 200)
    target = position(node, qualification="academic")
    node.call("POST", f"{FUNDING}/positions/{target['id']}/occupancy", as_=lead_api,
              json={"occupied": True, "since": STARTS.isoformat()})
    lead = browser(node)
    csrf = sign_in(lead, "lead-stuttgart")
    page = lead.get(f"/positions/{target['id']}").text
    assert "Hochschulniveau" in page and f"<th scope=\"row\">{YEAR}</th>" in page
    assert "30.000,00 €" in page and "60.000,00 €" in page  # 0.5 × 60,000 for the whole year
    assert "noch nicht festgesetzt" in page  # the other years' rates are not set
    assert f"Besetzt seit {STARTS:%d.%m.%Y}" in page
    assert 'href="/funding/exports/positions.xlsx"' in lead.get("/positions").text
    book = load_workbook(io.BytesIO(lead.get("/funding/exports/positions.xlsx").content))
    assert book.sheetnames == ["Stellen", "Zuwendungen"]
    assert (YEAR, 12, 60_000, 30_000) in [r[2:] for r in book["Zuwendungen"].iter_rows(values_only=True)]
    assert lead.get("/funding/exports/secrets.xlsx").status_code == 404
    assert lead.get("/funding/exports/positions.pdf").status_code == 404

    # the proof of use: what was paid out against the grant
    payouts = f"/positions/{target['id']}/payouts"
    wrong = lead.post(payouts, data={"csrf_token": csrf, "year": str(YEAR), "paid_eur": "viel"})
    assert wrong.status_code == 422 and summary_links(wrong.text) == ["#f-paid_eur"]
    outside = lead.post(payouts, data={"csrf_token": csrf, "year": "2001", "paid_eur": "1"})
    assert outside.status_code == 422 and summary_links(outside.text) == ["#f-year"]
    entered = lead.post(payouts, data={"csrf_token": csrf, "year": str(YEAR), "paid_eur": "25.000,00"})
    assert entered.status_code == 200 and "Der ausgezahlte Betrag wurde eingetragen." in entered.text
    assert "25.000,00 €" in entered.text and "5.000,00 €" in entered.text  # 30,000 granted, 5,000 not spent
    proof = node.call("GET", f"{FUNDING}/positions/{target['id']}/proof-of-use", as_=lead_api).json()
    assert {r["year"]: (r["granted_eur"], r["paid_eur"], r["unspent_eur"]) for r in proof}[YEAR] == (
        30_000.0, 25_000.0, 5_000.0)

    url = f"/positions/{target['id']}/extension"
    justification = "Die Stelle ist besetzt, der Beratungsbedarf in der Anschlussunterbringung wächst weiter."
    lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months", "justification": justification})
    (first,) = node.call("GET", f"{FUNDING}/positions/{target['id']}/extension-applications", as_=lead_api).json()
    page = lead.get(f"/positions/{target['id']}").text
    assert f'id="withdraw-{first["id"]}"' in page
    done = lead.post(f"/positions/{target['id']}/applications/{first['id']}/withdraw", data={"csrf_token": csrf},
                     follow_redirects=False)
    assert done.status_code == 303
    page = lead.get(f"/positions/{target['id']}").text
    assert "Der Antrag wurde zurückgezogen." in page and "Zurückgezogen" in page
    assert f'id="withdraw-{first["id"]}"' not in page
    again = lead.post(f"/positions/{target['id']}/applications/{first['id']}/withdraw", data={"csrf_token": csrf})
    assert "bereits entschieden, oder er wurde zurückgezogen" in again.text

    # a second application, approved by the state: the letter is linked and served as a PDF
    lead.post(url, data={"csrf_token": csrf, "kind": "extension_24_months", "justification": justification})
    second = next(a for a in node.call("GET", f"{FUNDING}/positions/{target['id']}/extension-applications",
                                       as_=lead_api).json() if a["status"] == "submitted")
    decide(redis, second, approved=True, reason="Bedarf nachgewiesen")
    # the page reads the position and its applications in two API calls: wait until both show the decision
    moved = f'id="ends-on">{add_months(ENDS, 24):%d.%m.%Y}'
    page = eventually(lambda: (t := lead.get(f"/positions/{target['id']}").text) and f'id="letter-{second["id"]}"'
                      in t and moved in t and t)
    letter = lead.get(f"/positions/{target['id']}/applications/{second['id']}/letter.pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    assert lead.get(f"/positions/{target['id']}/applications/{first['id']}/letter.pdf").status_code == 404


def test_the_officer_sets_a_year_imports_keys_and_is_warned_before_exceeding(state: NodeHandle,
                                                                             redis: Redis) -> None:
    officer = browser(state)
    csrf = sign_in(officer, "funding-officer")
    assert 'href="/funding/years"' in officer.get("/applications").text
    assert "Noch kein Förderjahr festgesetzt." in officer.get("/funding/years").text
    bad = officer.post("/funding/years", data={"csrf_token": csrf, "year": "1999", "budget_eur": "viel",
                                               "vocational": "51.000", "academic": ""})
    assert bad.status_code == 422 and summary_links(bad.text) == ["#f-budget_eur", "#f-academic"]
    low = officer.post("/funding/years", data={"csrf_token": csrf, "year": "1999", "budget_eur": "1",
                                               "vocational": "51.000", "academic": "60.000"})
    assert low.status_code == 422 and summary_links(low.text) == ["#f-year"]
    for year in (YEAR, YEAR + 1, YEAR + 2):
        done = officer.post("/funding/years", data={"csrf_token": csrf, "year": str(year), "budget_eur": "100.000",
                                                    "vocational": "51.000", "academic": "60.000"},
                            follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/funding/years/{year}"
    years_page = officer.get("/funding/years").text
    assert "100.000,00 €" in years_page and "51.000,00 €" in years_page

    url = f"/funding/years/{YEAR + 2}/allocation"
    empty = officer.post(url, data={"csrf_token": csrf}, files={"keys": ("k.csv", b"", "text/csv")})
    assert empty.status_code == 422 and summary_links(empty.text) == ["#f-keys"]
    broken = officer.post(url, data={"csrf_token": csrf}, files={"keys": ("k.csv", b"08111;viel\n", "text/csv")})
    assert broken.status_code == 422 and summary_links(broken.text) == ["#f-keys"]
    done = officer.post(url, data={"csrf_token": csrf}, files={"keys": ("k.csv", b"Kreis;Anteil\n08111;1\n08221;9\n",
                                                                        "text/csv")})
    assert done.status_code == 200 and "Die Verteilschlüssel wurden ersetzt." in done.text
    assert "10.000,00 €" in done.text and "90.000,00 €" in done.text  # 1:9 of 100,000
    assert officer.get("/funding/years/1800").status_code == 404
    exported = officer.get(f"/funding/exports/allocation.csv?year={YEAR + 2}")
    assert exported.status_code == 200 and exported.text.splitlines()[1] == "08111,1.0,10000.0,0.0,10000.0"

    # an application of a Stuttgart position that would add 30,000 € in a year: more than its 10,000 €
    app_id = applied(redis, STUTTGART)
    received(state, app_id)
    page = officer.get(f"/applications/{app_id}").text
    assert 'id="budget-warning"' in page and "würde die Zuweisung überschreiten" in page
    fewer = officer.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes",
                                                                   "months": "12"})
    assert fewer.status_code == 422 and summary_links(fewer.text) == ["#f-reason"]
    wrong = officer.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes",
                                                                   "months": "30"})
    assert wrong.status_code == 422 and summary_links(wrong.text) == ["#f-months"]
    ok = officer.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes",
                                                                "months": "12", "reason": "Mittel reichen für 12"},
                      follow_redirects=False)
    assert ok.status_code == 303
    decided = state.call("GET", f"{FUNDING}/extension-applications/{app_id}",
                         as_=state.headers("f", "funding_officer")).json()
    assert (decided["status"], decided["granted_months"]) == ("approved", 12)
    assert date.fromisoformat(decided["requested_ends_on"]) == add_months(ENDS, 24)


def test_the_lead_applies_for_a_new_position_with_errors_at_the_fields(node: NodeHandle, redis: Redis) -> None:
    lead = browser(node)
    csrf = sign_in(lead, "lead-stuttgart")
    listing = lead.get("/positions").text
    assert 'href="/positions/new"' in listing and "Neue Stelle beantragen" in listing
    form = lead.get("/positions/new")
    assert form.status_code == 200 and 'id="send-new-position"' in form.text and "Gewünschter Beginn" in form.text
    bad = lead.post("/positions/new", data={"csrf_token": csrf, "fte": "0,2", "starts_on": "31.02.2026",
                                            "months": "61", "justification": "zu kurz"})
    assert bad.status_code == 422
    assert summary_links(bad.text) == ["#f-fte", "#f-qualification", "#f-starts_on", "#f-months",
                                       "#f-justification"]
    assert "0,25 bis 1" in bad.text and "von 1 bis 60" in bad.text
    steps = lead.post("/positions/new", data={"csrf_token": csrf, "fte": "0,33", "qualification": "academic",
                                              "starts_on": "1.1.2026", "months": "12",
                                              "justification": JUSTIFICATION_TEXT})
    assert steps.status_code == 422 and summary_links(steps.text) == ["#f-fte"]
    starts = clock.today().replace(day=1)
    done = lead.post("/positions/new", data={"csrf_token": csrf, "fte": "0,75", "qualification": "academic",
                                             "starts_on": f"{starts:%d.%m.%Y}", "months": "36",
                                             "justification": JUSTIFICATION_TEXT}, follow_redirects=False)
    assert done.status_code == 303, done.text
    pid = done.headers["location"].removeprefix("/positions/").removesuffix("#applications")
    page = lead.get(f"/positions/{pid}").text
    assert "Ihr Antrag auf eine neue Stelle wurde an das Land gesendet." in page
    assert "Beantragt, noch nicht bewilligt" in page and "Beantragter Förderzeitraum" in page
    assert f"{starts:%d.%m.%Y} bis {add_months(starts, 36):%d.%m.%Y}" in page
    assert f'href="/positions/{pid}/extension"' not in page  # nothing to extend before it is approved
    listing = lead.get("/positions").text
    assert "Beantragt, noch nicht bewilligt" in listing and f'href="/positions/{pid}/extension"' not in listing
    (application,) = node.call("GET", f"{FUNDING}/positions/{pid}/extension-applications",
                               as_=node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])).json()
    assert (application["kind"], application["justification"]) == ("new_position", JUSTIFICATION_TEXT)
    # the extension form offers no new position
    other = position(node)
    assert 'value="new_position"' not in lead.get(f"/positions/{other['id']}/extension").text


def test_the_officer_sees_a_new_position_in_german_and_decides_it(state: NodeHandle, redis: Redis) -> None:
    position_id, app_id = new_event_id(), new_event_id()
    starts = date(YEAR, 1, 1)
    inbound(redis, PositionRegistered(position_id=position_id, fte=0.75, starts_on=starts,
                                      ends_on=add_months(starts, 36), status=PositionStatus.applied,
                                      qualification=Qualification.academic),
            node="node-a", tenant=STUTTGART, aggregate_id=position_id)
    inbound(redis, ExtensionApplied(application_id=app_id, position_id=position_id, applied_on=clock.today(),
                                    current_ends_on=starts, requested_ends_on=add_months(starts, 36),
                                    kind=ExtensionKind.new_position, justification=JUSTIFICATION_TEXT),
            node="node-a", tenant=STUTTGART, aggregate_id=position_id)
    received(state, app_id)
    officer = browser(state)
    csrf = sign_in(officer, "funding-officer")
    queue = officer.get("/applications").text
    assert "Neue Stelle" in queue and f"beantragt für {starts:%d.%m.%Y} bis {add_months(starts, 36):%d.%m.%Y}" in queue
    page = officer.get(f"/applications/{app_id}").text
    assert "Antrag auf eine neue Stelle" in page and 'id="new-fte">0,75' in page and "Hochschulniveau" in page
    assert "(36 Monate)" in page and JUSTIFICATION_TEXT in page
    too_many = officer.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes",
                                                                      "months": "40", "reason": "mehr"})
    assert too_many.status_code == 422 and summary_links(too_many.text) == ["#f-months"]
    assert "von 1 bis 36" in too_many.text
    ok = officer.post(f"/applications/{app_id}/decision", data={"csrf_token": csrf, "approved": "yes",
                                                                "months": "24", "reason": "Zunächst zwei Jahre"},
                      follow_redirects=False)
    assert ok.status_code == 303
    register = state.call("GET", f"{FUNDING}/positions", as_=state.headers("f", "funding_officer")).json()
    assert [(p["status"], p["ends_on"]) for p in register["items"]] == [
        ("approved", add_months(starts, 24).isoformat())]


def test_the_inbox_links_a_decision_to_its_letter_only_when_the_letter_is_here(node: NodeHandle,
                                                                               redis: Redis) -> None:
    lead_api = node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])
    application = node.call("POST", f"{FUNDING}/new-position-applications", as_=lead_api, json={
        "fte": 0.5, "qualification": "vocational", "starts_on": clock.today().replace(day=1).isoformat(),
        "months": 24, "justification": JUSTIFICATION_TEXT}).json()
    decision = ExtensionDecided(application_id=application["id"], position_id=application["position_id"],
                                approved=True, decided_on=clock.today(), kind=ExtensionKind.new_position)
    # and one this node never applied for: announced to the lead, but there is no letter to link
    stray = ExtensionDecided(application_id=new_event_id(), position_id=new_event_id(), approved=False,
                             decided_on=clock.today(), reason="unbekannt")
    for payload in (decision, stray):
        env = envelope_for(payload, tenant=STUTTGART, node="state", aggregate_id=payload.position_id,
                           target_node="test-node")
        redis.xadd(STREAMS["federation"], {"event": env.to_json()})
    lead = browser(node)
    csrf = sign_in(lead, "lead-stuttgart")
    letter = f'/positions/{application["position_id"]}/applications/{application["id"]}/letter.pdf'
    inbox = eventually(lambda: (t := lead.get("/inbox").text) and letter in t
                       and t.count("<h2>Verlängerung entschieden") == 2 and t)
    assert f"Das Land hat den Antrag auf die neue Stelle {application['position_id']} am " in inbox
    assert inbox.count('.pdf"') == 1  # the stray decision has no letter here: no link
    assert lead.get(letter).content.startswith(b"%PDF")
    # marking it read (HTMX swaps the notification) keeps the link
    notifications = node.call("GET", "/api/notifications/v1/inbox", as_=lead_api).json()
    mine = next(n for n in notifications if n["data"].get("application_id") == application["id"])
    swapped = lead.post(f"/inbox/{mine['id']}/read", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and letter in swapped.text
