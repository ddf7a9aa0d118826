"""Casework over HTTP on a real node: eligibility at opening, the counselling clock and its extension."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from redis import Redis
from sqlmodel import col, select

from services.cases.counselling import years_after
from services.cases.models import SearchEntry
from shared import clock
from tests.integration.test_cases_service import (
    API,
    CASE,
    CONSULTATION,
    case_events,
    consult,
    counts,
    lead,
    manager,
    open_case,
)
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

TODAY = clock.today()
UKRAINE = {**CASE, "nationality": "UKR", "languages": ["uk", "ru"], "accommodation_since": None,
           "eligibility": "temporary_protection_ukraine", "eligible_since": "2022-04-11"}


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases")


def refused(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return [(d["field"], d["reason"]) for d in r.json()["detail"]]


def test_an_eligible_case_opens_and_an_ineligible_one_is_refused_with_the_reason(node: NodeHandle) -> None:
    as_m1 = manager(node)
    ukraine = open_case(node, as_m1, **{**UKRAINE, "household_size": 3},
                        household_members=[{"relation": "child", "birth_year": 2014}, {"relation": "parent"}])
    assert (ukraine["eligibility"], ukraine["eligible_since"], ukraine["accommodation_since"]) == (
        "temporary_protection_ukraine", "2022-04-11", None)
    assert ukraine["household_members"] == [{"relation": "child", "birth_year": 2014},
                                            {"relation": "parent", "birth_year": None}]
    before = counts(node)
    for body, field, words in [
        ({**CASE, "eligibility": "initial_reception"}, "eligibility", "follow_up_accommodation"),
        ({**CASE, "eligibility": None}, "eligibility", ""),
        ({**CASE, "accommodation_since": None}, "accommodation_since", "required when eligibility"),
        ({**UKRAINE, "eligible_since": None}, "eligible_since", "§ 24 AufenthG"),
        ({**UKRAINE, "eligible_since": "2021-05-01"}, "eligible_since", "2022-03-04"),
        ({**UKRAINE, "eligible_since": (TODAY + timedelta(days=1)).isoformat()}, "eligible_since", "future"),
        ({**CASE, "eligible_since": "1980-01-01"}, "eligible_since", "before birth_date"),
        ({**CASE, "household_size": 1, "household_members": [{"relation": "child"}]}, "household_members",
         "household_size - 1 = 0"),
        ({**CASE, "household_members": [{"relation": "cousin"}]}, "household_members.0.relation", ""),
        ({**CASE, "household_members": [{"relation": "child", "name": "Lina"}]}, "household_members.0.name", ""),
        ({**CASE, "household_members": [{"relation": "child", "birth_year": 1850}]},
         "household_members.0.birth_year", ""),
    ]:
        answer = refused(node.client.post(f"{API}/cases", headers=as_m1, json=body))
        assert any(f == field and words in reason for f, reason in answer), (field, answer)
    assert counts(node) == before  # nothing half written


def test_the_clock_shows_after_the_first_consultation_and_extends_once(node: NodeHandle, redis: Redis) -> None:
    as_m1, as_lead = manager(node), lead(node)
    cid = open_case(node, as_m1)["id"]
    r = node.client.post(f"{API}/cases/{cid}/counselling-extension", headers=as_lead,
                         json={"justification": "Ausbildung beginnt erst im Herbst"})
    assert r.status_code == 409 and "no consultation recorded yet" in r.json()["detail"]
    first = TODAY - timedelta(days=30)
    assert consult(node, cid, as_m1, held_on=first.isoformat()).status_code == 201
    case = node.client.get(f"{API}/cases/{cid}", headers=as_m1).json()
    assert (case["first_consultation_on"], case["counselling_ends_on"]) == (
        first.isoformat(), years_after(first, 3).isoformat())

    body = {"justification": "Ausbildung beginnt erst im Herbst"}
    r = node.client.post(f"{API}/cases/{cid}/counselling-extension", headers=as_m1, json=body)
    assert r.status_code == 403  # the lead decides, not the manager
    for bad in ({}, {"justification": "kurz"}, {"justification": "x" * 1001}, {"justification": 12},
                {"justification": "Ausbildung beginnt", "ends_on": "2040-01-01"}):
        assert refused(node.client.post(f"{API}/cases/{cid}/counselling-extension", headers=as_lead,
                                        json=bad))
    r = node.client.post(f"{API}/cases/{cid}/counselling-extension", headers=as_lead, json=body)
    assert r.status_code == 200, r.text
    assert (r.json()["counselling_ends_on"], r.json()["counselling_extended_on"],
            r.json()["extension_justification"]) == (
        years_after(first, 4).isoformat(), TODAY.isoformat(), body["justification"])
    before = counts(node)
    r = node.client.post(f"{API}/cases/{cid}/counselling-extension", headers=as_lead, json=body)
    assert r.status_code == 409 and "only once" in r.json()["detail"]
    assert counts(node) == before

    audit = node.client.get(f"{API}/cases/{cid}/audit", headers=as_lead).json()["items"]
    assert ("extend_counselling", f"lead-{STUTTGART}") in [(a["action"], a["actor"]) for a in audit]
    clock = eventually(lambda: (e := [e for e in case_events(redis) if e.type == "CounsellingPeriodSet"])
                       and len(e) == 2 and e)
    assert [(e.payload["ends_on"], e.payload["extended"], e.scope) for e in clock] == [
        (years_after(first, 3).isoformat(), False, "local"), (years_after(first, 4).isoformat(), True, "local")]
    assert "Ausbildung" not in str([e.model_dump() for e in case_events(redis)])


def test_a_consultation_after_the_end_is_refused_with_the_date(node: NodeHandle) -> None:
    as_m1 = manager(node)
    cid = open_case(node, as_m1, accommodation_since="2019-01-01")["id"]
    assert consult(node, cid, as_m1, held_on="2020-01-06").status_code == 201
    r = node.client.post(f"{API}/cases/{cid}/consultations", headers=as_m1, json=CONSULTATION)
    assert r.status_code == 409 and r.json()["detail"].startswith("counselling ended on 2023-01-06")


def test_personal_data_is_corrected_audited_and_never_announced(node: NodeHandle, redis: Redis) -> None:
    as_m1 = manager(node)
    cid = open_case(node, as_m1, given_name="Zyxwvu-Canary")["id"]
    r = node.client.patch(f"{API}/cases/{cid}", headers=as_m1,
                          json={"given_name": "Qwertz-Canary", "birth_date": "1990-05-18"})
    assert r.status_code == 200, r.text
    assert (r.json()["given_name"], r.json()["birth_date"]) == ("Qwertz-Canary", "1990-05-18")
    before = counts(node)
    for body, field in [({}, "body"), ({"given_name": ""}, "given_name"), ({"manager": "m2"}, "manager"),
                        ({"status": "closed"}, "status"), ({"birth_date": "2030-01-01"}, "birth_date"),
                        ({"accommodation_since": None}, "accommodation_since")]:
        answer = refused(node.client.patch(f"{API}/cases/{cid}", headers=as_m1, json=body))
        assert field in [f for f, _ in answer] or (field == "body" and answer), (body, answer)
    assert counts(node) == before
    assert node.client.patch(f"{API}/cases/{cid}", headers=manager(node, "m2"),
                             json={"given_name": "X"}).status_code == 404  # a colleague's case
    audit = node.client.get(f"{API}/cases/{cid}/audit", headers=lead(node)).json()["items"]
    assert ("change", "m1", "changed: birth_date,given_name") in [(a["action"], a["actor"], a["detail"]) for a in audit]
    assert "Canary" not in str(audit)
    eventually(lambda: len(case_events(redis)) == 1)
    assert "Canary" not in str([e.model_dump() for e in case_events(redis)])


def test_a_lead_reassigns_a_case_from_one_caseload_to_the_other(node: NodeHandle, redis: Redis) -> None:
    as_m1, as_m2, as_lead = manager(node), manager(node, "m2"), lead(node)
    cid = open_case(node, as_m1)["id"]
    open_case(node, as_m2)

    def caseload(headers: dict[str, str]) -> list[str]:
        return [c["id"] for c in node.client.get(f"{API}/cases", headers=headers).json()["items"]]

    assert cid in caseload(as_m1) and cid not in caseload(as_m2)
    assert node.client.post(f"{API}/cases/{cid}/reassign", headers=as_m1, json={"manager": "m2"}).status_code == 403
    for bad in ({}, {"manager": ""}, {"manager": "m 2"}, {"manager": "m1"}, {"manager": 2}):
        assert refused(node.client.post(f"{API}/cases/{cid}/reassign", headers=as_lead, json=bad))
    r = node.client.post(f"{API}/cases/{cid}/reassign", headers=as_lead, json={"manager": "m2"})
    assert r.status_code == 200 and r.json()["manager"] == "m2"
    assert cid not in caseload(as_m1) and cid in caseload(as_m2)
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m1).status_code == 404
    assert [c["manager"] for c in node.client.get(f"{API}/cases", headers=as_lead,
                                                   params={"manager": "m2"}).json()["items"]] == ["m2", "m2"]
    assert node.client.get(f"{API}/caseloads", headers=as_lead).json() == [
        {"manager": "m2", "open_cases": 2, "closed_cases": 0}]
    assert node.client.get(f"{API}/caseloads", headers=as_m1).status_code == 403
    audit = node.client.get(f"{API}/cases/{cid}/audit", headers=as_lead).json()["items"]
    assert ("reassign", f"lead-{STUTTGART}", "m1 -> m2") in [(a["action"], a["actor"], a["detail"]) for a in audit]
    moved = eventually(lambda: [e for e in case_events(redis) if e.type == "CaseReassigned"])
    assert [(e.scope, e.payload["previous_manager"], e.payload["manager"]) for e in moved] == [("local", "m1", "m2")]


def test_search_finds_only_what_the_caller_may_see_and_every_search_is_logged(
        node: NodeHandle, redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    mine = open_case(node, manager(node), family_name="Suchmann-Canary")["id"]
    colleagues = open_case(node, manager(node, "m2"), family_name="Suchmann-Canary")["id"]
    open_case(node, manager(node, "m1", HEIDELBERG), family_name="Suchmann-Canary")

    def found(headers: dict[str, str], **params: Any) -> list[str]:
        r = node.client.get(f"{API}/cases", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    caplog.set_level(logging.DEBUG)
    assert found(manager(node), q="suchmann") == [mine]
    assert found(lead(node), q="Suchmann-Canary") == [mine, colleagues]
    assert found(lead(node), q="17.05.1990", limit=1) == [mine]  # by birth date, paged
    assert found(lead(node), q="Niemand-Canary") == []
    for bad in ("a", " x ", "x" * 101, "Ha\x00ddad"):
        assert [f for f, _ in refused(node.client.get(f"{API}/cases", headers=lead(node), params={"q": bad}))] == ["q"]

    audit = node.client.get(f"{API}/cases/{mine}/audit", headers=lead(node)).json()["items"]
    assert [a["action"] for a in audit].count("search") == 3 and "Canary" not in str(audit)
    with node.node.contexts["cases"].database.session() as s:
        logged = s.exec(select(SearchEntry).order_by(col(SearchEntry.id))).all()  # terms open as they load
    assert [(r.actor, r.term, r.found) for r in logged] == [
        ("m1", "suchmann", 1), (f"lead-{STUTTGART}", "Suchmann-Canary", 2), (f"lead-{STUTTGART}", "17.05.1990", 1),
        (f"lead-{STUTTGART}", "Niemand-Canary", 0)]
    # the term is personal data: in the search log, never in a stream entry or a log line
    eventually(lambda: len(case_events(redis)) == 3)
    assert "Canary" not in str([e.model_dump() for e in case_events(redis)])
    # (httpx is this test's own client: the node keeps httpx at WARNING, shared/runtime/logging.py)
    lines = [r for r in caplog.records if r.name != "httpx"]
    assert lines and not [r.getMessage() for r in lines if "Canary" in str(r.__dict__)]
