"""Every export opens with openpyxl, has the documented sheets and columns, and equals the API's numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import load_workbook
from redis import Redis

from shared import clock
from tests.integration.test_funding_pages import ENDS, FUNDING, STARTS, applied, position, received
from tests.integration.test_funding_procedure_pages import YEAR, year_down
from tests.nodes import STUTTGART, NodeHandle, eventually

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POSITION_COLUMNS = ["Stelle", "AGS", "Vollzeitäquivalente", "Qualifikation", "Beginn", "Ende", "Status",
                    "Status seit"]
GRANT_COLUMNS = ["Stelle", "AGS", "Förderjahr", "Geförderte Monate", "Festbetrag je Vollzeitstelle (EUR)",
                 "Zuwendung (EUR)"]


def sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(content))
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def download(node: NodeHandle, path: str, headers: dict[str, str], fmt: str, **params: Any) -> Any:
    r = node.client.get(f"{FUNDING}{path}", params={"format": fmt, **params}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XLSX if fmt == "xlsx" else "text/csv")
    return sheets(r.content) if fmt == "xlsx" else list(csv.reader(io.StringIO(r.text)))


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding")


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("funding", level="state")


def test_the_municipal_register_and_applications_export_as_the_api_answers(node: NodeHandle, redis: Redis) -> None:
    lead = node.headers("lead-stuttgart", "lead", tenants=[STUTTGART])
    year_down(redis, YEAR)
    eventually(lambda: node.call("GET", f"{FUNDING}/years/{YEAR}", as_=lead).status_code == 200)
    mine = [position(node, qualification="academic"), position(node, fte=0.75)]
    node.call("POST", f"{FUNDING}/positions/{mine[0]['id']}/extension-applications", as_=lead,
              json={"justification": "Die Stelle ist besetzt; der Bedarf hält an."})
    book = download(node, "/exports/positions", lead, "xlsx")
    assert list(book) == ["Stellen", "Zuwendungen"]
    assert list(book["Stellen"][0]) == POSITION_COLUMNS and list(book["Zuwendungen"][0]) == GRANT_COLUMNS
    assert [(r[0], r[2], r[4].date(), r[5].date()) for r in book["Stellen"][1:]] == [
        (p["id"], p["fte"], STARTS, ENDS) for p in mine]
    for p in mine:
        api = node.call("GET", f"{FUNDING}/positions/{p['id']}/grants", as_=lead).json()["items"]
        exported = [r[2:] for r in book["Zuwendungen"][1:] if r[0] == p["id"]]
        assert exported == [(g["year"], g["months"], g["rate_eur"], g["amount_eur"]) for g in api]
        assert any(isinstance(r[3], int | float) for r in exported)  # numbers as numbers, not text
    grants_csv = download(node, "/exports/positions", lead, "csv", sheet="Zuwendungen")
    assert grants_csv[0] == GRANT_COLUMNS and len(grants_csv) == len(book["Zuwendungen"])
    applications = download(node, "/exports/applications", lead, "xlsx", year=clock.today().year)["Anträge"]
    assert applications[1][0] == node.call("GET", f"{FUNDING}/positions/{mine[0]['id']}/extension-applications",
                                           as_=lead).json()[0]["id"]
    assert applications[1][9] == "Entscheidung ausstehend" and len(applications) == 2
    assert len(download(node, "/exports/applications", lead, "csv", year=2001)) == 1  # the header only
    for bad, field in (({"format": "pdf"}, "format"), ({"format": "csv", "sheet": "Kreise"}, "sheet")):
        r = node.client.get(f"{FUNDING}/exports/positions", params=bad, headers=lead)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text


def test_the_states_exports_equal_its_api(state: NodeHandle, redis: Redis) -> None:
    officer = state.headers("otto", "funding_officer")
    for year in (YEAR, YEAR + 2):
        r = state.client.post(f"{FUNDING}/years", headers=officer, json={
            "year": year, "budget_eur": 1_000_000, "rates_eur": {"vocational": 51_000, "academic": 60_000}})
        assert r.status_code == 201
    state.client.put(f"{FUNDING}/years/{YEAR + 2}/allocation", headers=officer,
                     json={"keys": {"08111": 1.0, "08221": 3.0}})
    app_id = applied(redis, STUTTGART)
    received(state, app_id)
    assert state.client.post(f"{FUNDING}/extension-applications/{app_id}/decision", headers=officer,
                             json={"approved": True}).status_code == 200
    api = state.client.get(f"{FUNDING}/years/{YEAR + 2}/allocation", headers=officer).json()
    book = download(state, "/exports/allocation", officer, "xlsx", year=YEAR + 2)
    assert list(book) == ["Kreise", "Land"]
    assert book["Kreise"][1:] == [(d["district"], d["share"], d["allocation_eur"], d["committed_eur"],
                                   d["remaining_eur"]) for d in api["districts"]]
    assert book["Land"][1] == (YEAR + 2, 1_000_000, api["committed_eur"], api["remaining_eur"])
    assert api["committed_eur"] == 25_500.0  # the extended Stuttgart position, 0.5 × 51,000
    register = download(state, "/exports/positions", officer, "xlsx")
    assert register["Stellen"][0][:3] == ("Stelle", "Knoten", "AGS")
    position_id = state.client.get(f"{FUNDING}/extension-applications/{app_id}", headers=officer).json()["position_id"]
    grants = state.client.get(f"{FUNDING}/positions/{position_id}/grants", headers=officer).json()["items"]
    assert [r[3:] for r in register["Zuwendungen"][1:]] == [
        (g["year"], g["months"], g["rate_eur"], g["amount_eur"]) for g in grants]
    decided = download(state, "/exports/applications", officer, "csv", year=clock.today().year)
    assert decided[1][0] == app_id and decided[1][10] == "bewilligt" and decided[1][12] == "24"
