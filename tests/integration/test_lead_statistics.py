"""The lead's figures on a municipal node: the state's statistics, counted from the node's own records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from services.cases.models import AuditEntry
from services.cases.statistics import ConsultationStatistics
from services.plans.statistics import GoalStatistics
from shared import clock
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

CASES, PLANS = "/api/cases/v1", "/api/plans/v1"
CONSULTATIONS, GOALS = f"{CASES}/statistics/consultations", f"{PLANS}/statistics/goals"
YESTERDAY = clock.today() - timedelta(days=1)
CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17",
        "nationality": "SYR", "languages": ["ar"], "household_size": 2,
        "accommodation_since": "2023-02-01"}
NOT_OURS = [{"field": "tenant", "reason": "not a tenant the caller may act for"}]


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "plans")  # tenants: Stuttgart and Heidelberg


def lead(node: NodeHandle, *tenants: str) -> dict[str, str]:
    return node.headers("lead-1", "lead", tenants=list(tenants or [STUTTGART]))


def open_case(node: NodeHandle, tenant: str = STUTTGART) -> str:
    r = node.client.post(f"{CASES}/cases", headers=node.headers("m1", "manager", tenants=[tenant]), json=CASE)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def consult(node: NodeHandle, case_id: str, tenant: str = STUTTGART, times: int = 1, **body: Any) -> None:
    for _ in range(times):
        r = node.client.post(f"{CASES}/cases/{case_id}/consultations",
                             headers=node.headers("m1", "manager", tenants=[tenant]),
                             json={"held_on": YESTERDAY.isoformat(), "duration_minutes": 30, "mode": "office",
                                   "topics": ["work"], **body})
        assert r.status_code == 201, r.text


def add_goal(node: NodeHandle, case_id: str, area: str, tenant: str = STUTTGART) -> None:
    as_ = node.headers("m1", "manager", tenants=[tenant])
    plan = eventually(lambda: (r := node.client.get(f"{PLANS}/plans", params={"case_id": case_id},
                                                    headers=as_)).status_code == 200 and r.json())
    r = node.client.post(f"{PLANS}/plans/{plan['id']}/goals", headers=as_, json={"area": area, "title": "Ziel"})
    assert r.status_code == 201, r.text


def audit_rows(node: NodeHandle) -> int:
    with node.node.contexts["cases"].database.session() as s:
        return int(s.exec(select(func.count()).select_from(AuditEntry)).one())


def test_a_lead_reads_the_consultation_figures_of_their_municipality(node: NodeHandle) -> None:
    ours = [open_case(node) for _ in range(6)]
    for case_id in ours:
        consult(node, case_id)
    consult(node, ours[0], times=2, mode="phone", topics=["health", "work"], duration_minutes=10)
    consult(node, open_case(node, HEIDELBERG), HEIDELBERG, times=9)
    before = audit_rows(node)

    r = node.client.get(CONSULTATIONS, headers=lead(node))
    assert r.status_code == 200, r.text
    answer = r.json()
    # the state's answer, field for field
    assert set(answer) == set(ConsultationStatistics.model_json_schema(by_alias=True)["properties"])
    assert (answer["tenant"], answer["from"], answer["to"], answer["min_cell"]) == (STUTTGART, None, None, 5)
    assert (answer["consultations"], answer["minutes"], answer["distinct_clients"]) == (8, 200, 6)
    topics = {row["topic"]: (row["consultations"], row["suppressed"]) for row in answer["by_topic"]}
    assert topics["work"] == (8, False) and topics["health"] == (None, True) and topics["school"] == (0, False)
    modes = {row["mode"]: (row["consultations"], row["suppressed"]) for row in answer["by_mode"]}
    # phone (2) is withheld, and office with it: it would be the total minus phone
    assert modes["phone"] == (None, True) and modes["office"] == (None, True)
    assert answer["by_month"] == [{"month": YESTERDAY.strftime("%Y-%m"), "consultations": 8, "minutes": 200,
                                   "suppressed": False}]
    assert answer["open_cases"] == [{"tenant": STUTTGART, "open_cases": 6, "suppressed": False}]
    # aggregates: no case file was read, so no audit row was written
    assert audit_rows(node) == before

    window = {"from": (YESTERDAY + timedelta(days=1)).isoformat(), "to": (YESTERDAY + timedelta(days=2)).isoformat()}
    r = node.client.get(CONSULTATIONS, params=window, headers=lead(node))
    assert (r.json()["consultations"], r.json()["from"], r.json()["to"]) == (0, window["from"], window["to"])
    # a lead of two municipalities names the one; Heidelberg's nine are not Stuttgart's
    both = lead(node, STUTTGART, HEIDELBERG)
    r = node.client.get(CONSULTATIONS, params={"tenant": HEIDELBERG}, headers=both)
    assert (r.status_code, r.json()["tenant"], r.json()["consultations"]) == (200, HEIDELBERG, 9)


def test_a_lead_reads_the_goal_figures_of_their_municipality(node: NodeHandle) -> None:
    cases = [open_case(node) for _ in range(5)]
    for case_id in cases:
        add_goal(node, case_id, "work")
    add_goal(node, cases[0], "language")
    add_goal(node, open_case(node, HEIDELBERG), "housing", HEIDELBERG)

    r = node.client.get(GOALS, headers=lead(node))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == set(GoalStatistics.model_json_schema()["properties"])
    assert (answer["tenant"], answer["min_cell"]) == (STUTTGART, 5)
    cells = {(c["area"], c["status"]): c["count"] for c in answer["cells"] if c["count"] or c["suppressed"]}
    assert cells == {("work", "open"): 5, ("language", "open"): None}
    assert answer["clients"] == {"count": 5, "suppressed": False}
    # 6 = 5 shown + 1 withheld: the total would give the withheld cell back
    assert answer["total"] == {"count": None, "suppressed": True}
    r = node.client.get(GOALS, params={"tenant": HEIDELBERG}, headers=lead(node, HEIDELBERG))
    assert (r.json()["tenant"], r.json()["total"]) == (HEIDELBERG, {"count": None, "suppressed": True})


@pytest.mark.parametrize("url", [CONSULTATIONS, GOALS])
def test_only_a_lead_and_only_for_their_tenants(node: NodeHandle, url: str) -> None:
    assert node.client.get(url).status_code == 401
    for role in ("manager", "node_admin", "state_operator", "funding_officer"):
        r = node.client.get(url, headers=node.headers("x1", role, tenants=[STUTTGART]))
        assert r.status_code == 403, role
    # another municipality of this node, and one of no node: the same refusal, naming tenant
    for tenant in (HEIDELBERG, MANNHEIM):
        r = node.client.get(url, params={"tenant": tenant}, headers=lead(node))
        assert (r.status_code, r.json()["detail"]) == (422, NOT_OURS), tenant
    r = node.client.get(url, headers=lead(node, STUTTGART, HEIDELBERG))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"field": "tenant", "reason": "required: the caller acts for several tenants"}]
    for bad in ("0811100", "abcdefgh", "x" * 10_000):
        r = node.client.get(url, params={"tenant": bad}, headers=lead(node))
        assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == ["tenant"]


def test_the_consultation_window_is_checked(node: NodeHandle) -> None:
    for field, value in [("from", "2024-02-30"), ("from", "1704067200"), ("to", "yesterday")]:
        r = node.client.get(CONSULTATIONS, params={field: value}, headers=lead(node))
        assert r.status_code == 422 and [d["field"] for d in r.json()["detail"]] == [field], value
    r = node.client.get(CONSULTATIONS, params={"from": "2024-05-01", "to": "2024-04-30"}, headers=lead(node))
    assert (r.status_code, r.json()["detail"]) == (422, [{"field": "to", "reason": "must not be before from"}])


def test_the_figures_are_documented_with_their_answers(node: NodeHandle) -> None:
    paths = node.client.get("/openapi.json").json()["paths"]
    for url, model in [(CONSULTATIONS, "ConsultationStatistics"), (GOALS, "GoalStatistics")]:
        schema = paths[url]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}
