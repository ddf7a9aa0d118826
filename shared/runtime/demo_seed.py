"""The demo's data: realistic cases, consultations, plan goals and positions, made through the HTTP API."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any

from shared import clock
from shared.runtime.demo_nodes import DemoNode, api, eventually

NAMES = {"08111000": "Stuttgart", "08221000": "Heidelberg", "08222000": "Mannheim"}
GIVEN = ["Amina", "Yusuf", "Olena", "Ahmad", "Mariam", "Dmytro", "Fatima", "Omid", "Hana", "Samir",
         "Zainab", "Bohdan", "Leyla", "Karim", "Nour", "Aziz"]
FAMILY = ["Haddad", "Rahimi", "Kovalenko", "Mohammadi", "Ibrahim", "Shevchenko", "Nouri", "Yilmaz",
          "Hussaini", "Bondarenko", "Al-Masri", "Karimi"]
ORIGIN = [("SYR", ["ar"]), ("AFG", ["fa", "ps"]), ("UKR", ["uk", "ru"]), ("IRQ", ["ar", "ku"]),
          ("ERI", ["ti"]), ("TUR", ["tr", "ku"])]
GOALS = {"language": "B1 German course with certificate", "work": "Recognition of vocational degree",
         "housing": "Own rental flat", "school": "Enrol children in primary school",
         "education": "Start apprenticeship", "health": "Find a family doctor"}
TOPICS = ["language", "work", "housing", "school", "education", "health", "family", "residence",
          "benefits", "everyday_life"]


def seed(node: DemoNode, rng: random.Random) -> list[tuple[str, str, str]]:
    """Cases with consultations and plan goals, and positions with one extension application each."""
    today = clock.today()
    cases: list[tuple[str, str, str]] = []
    for tenant in node.tenants:
        managers = [f"manager-{NAMES[tenant].lower()}-{i}" for i in (1, 2)]
        lead = node.token(f"lead-{NAMES[tenant].lower()}", "lead", [tenant])
        for i in range(8):
            manager = managers[i % 2]
            token = node.token(manager, "manager", [tenant])
            nationality, languages = rng.choice(ORIGIN)
            born = date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
            case = api(node, "POST", "/api/cases/v1/cases", token, {
                "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
                "birth_date": born.isoformat(), "nationality": nationality, "languages": languages,
                "household_size": rng.randint(1, 6), "tenant": tenant,
                "accommodation_since": (today - timedelta(days=rng.randint(60, 900))).isoformat()})
            cases.append((tenant, manager, case["id"]))
            for _ in range(rng.randint(2, 4)):
                record_consultation(node, token, case["id"], rng)
            plan = eventually(lambda c=case, t=token: api(node, "GET", f"/api/plans/v1/plans?case_id={c['id']}", t))
            for area in rng.sample(list(GOALS), 2):
                target = today + timedelta(days=rng.randint(-20, 300))
                goal = api(node, "POST", f"/api/plans/v1/plans/{plan['id']}/goals", token,
                           {"area": area, "title": GOALS[area], "target_date": target.isoformat()})
                status = rng.choice(["open", "in_progress", "in_progress", "achieved"])
                if status != "open":
                    api(node, "PATCH", f"/api/plans/v1/plans/{plan['id']}/goals/{goal['id']}", token,
                        {"status": status})
        for fte, qualification in ((1.0, "vocational"), (0.5, "academic")):
            start = today - timedelta(days=rng.randint(300, 600))
            pos = api(node, "POST", "/api/funding/v1/positions", lead, {
                "tenant": tenant, "fte": fte, "qualification": qualification, "starts_on": start.isoformat(),
                "ends_on": (start + timedelta(days=730)).isoformat()})
            api(node, "POST", f"/api/funding/v1/positions/{pos['id']}/occupancy", lead,
                {"occupied": True, "since": (start + timedelta(days=30)).isoformat()})
        api(node, "POST", f"/api/funding/v1/positions/{pos['id']}/extension-applications", lead,
            {"justification": "Die Stelle ist besetzt; der Beratungsbedarf in der Anschlussunterbringung hält an."})
    return cases


# The state's rates per full-time position and year: €51,000 vocational, a higher academic rate.
RATES = {"vocational": 51_000, "academic": 60_300}
# Shares of assignments from initial reception (illustrative) of the demo's urban districts.
ALLOCATION_KEYS = {"08111": 5.6, "08221": 1.4, "08222": 2.9, "08212": 2.8, "08311": 2.2, "08421": 1.1}


def seed_funding_years(state: DemoNode, officer: str) -> None:
    """Funding years around today with budget and rates (sent down to every node), and this year's keys."""
    this_year = clock.today().year
    for year in range(this_year - 2, this_year + 5):
        api(state, "POST", "/api/funding/v1/years", officer,
            {"year": year, "budget_eur": 48_000_000, "rates_eur": RATES})
    api(state, "PUT", f"/api/funding/v1/years/{this_year}/allocation", officer, {"keys": ALLOCATION_KEYS})


def wait_for_applications(state: DemoNode, token: str, count: int, timeout: float = 60) -> list[Any]:
    """The state's submitted applications once every municipality's has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api(state, "GET", "/api/funding/v1/extension-applications?status=submitted", token)
        items = answer if isinstance(answer, list) else answer["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return list(items)
        time.sleep(0.5)


def record_consultation(node: DemoNode, token: str, case_id: str, rng: random.Random) -> None:
    api(node, "POST", f"/api/cases/v1/cases/{case_id}/consultations", token, {
        "held_on": (clock.today() - timedelta(days=rng.randint(0, 60))).isoformat(),
        "duration_minutes": rng.choice([20, 30, 45, 60, 90]),
        "mode": rng.choice(["office", "office", "outreach", "phone", "video", "group"]),
        "topics": rng.sample(TOPICS, rng.randint(1, 3))})
