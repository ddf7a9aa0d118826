"""The printable plan through the API: German and Arabic side by side, what the manager wrote as written,
right to left for Arabic and Persian, audited, refused for strangers and unknown languages."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from shared import clock
from shared.runtime.embedded import EmbeddedServer
from tests.integration.test_plans_audit import actions
from tests.integration.test_plans_service import API, CasesOutbox, add_goal, manager, plan_for
from tests.nodes import NodeHandle

TODAY = clock.today()


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("plans")


@pytest.fixture
def cases(valkey: EmbeddedServer, tmp_path: Path) -> CasesOutbox:
    return CasesOutbox(tmp_path, valkey.url)


def lines(pdf: bytes) -> tuple[str, list[tuple[float, str]]]:
    """The PDF's text, and each text run of the first page with its horizontal position."""
    reader = PdfReader(io.BytesIO(pdf))
    runs: list[tuple[float, str]] = []

    def seen(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            runs.append((tm[4] * cm[0] + cm[4], text.strip()))

    reader.pages[0].extract_text(visitor_text=seen)
    # cells wrap their text: compare with every run of white space as one space
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split()), runs


def test_the_printed_plan_in_german_and_arabic(node: NodeHandle, cases: CasesOutbox) -> None:
    as_m1 = manager(node)
    opened = cases.open("m1")
    pid = plan_for(node, opened, as_m1)["id"]
    goal = add_goal(node, pid, as_m1, area="language", title="Deutschkurs B1 abschließen",
                    target_date="2027-06-30").json()
    steps = f"{API}/plans/{pid}/goals/{goal['id']}/steps"
    for body in ({"what": "Beim Kursträger anmelden", "who": "client", "due_on": "2027-01-31"},
                 {"what": "Termin vereinbaren", "who": "partner", "partner_type": "language_course_provider"}):
        assert node.client.post(steps, headers=as_m1, json=body).status_code == 201
    agreed = node.client.post(f"{API}/plans/{pid}/agreements", headers=as_m1, json={
        "agreed_on": TODAY.isoformat(), "language": "ar", "signed_on_paper": True})
    assert agreed.status_code == 201, agreed.text

    r = node.client.get(f"{API}/plans/{pid}/document.pdf?lang=ar", headers=as_m1)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text, runs = lines(r.content)
    for expected in ("Integrationsplan", "خطة الاندماج", "Schritte", "الخطوات", "Sprache", "اللغة",
                     "Deutschkurs B1 abschließen", "Beim Kursträger anmelden", "Termin vereinbaren",
                     "Sprachkursträger", "Vermittelt", "تمت الإحالة", "30.06.2027", "31.01.2027",
                     TODAY.strftime("%d.%m.%Y"), "mir auf Arabisch erklärt", "أنا موافق عليها"):
        assert expected in text, expected
    # right to left: the Arabic agreement sentence is set flush right, its short last line starts further right
    arabic = [x for x, run in runs if "تمت مناقشة" in run or "أنا موافق عليها" in run]
    german = [x for x, run in runs if run.startswith(("Dieser Plan", "mit ihm einverstanden"))]
    assert len(arabic) == 2 and arabic[1] > arabic[0] + 20, runs
    assert len(german) == 2 and abs(german[1] - german[0]) < 1
    assert actions(node, opened.payload["case_id"])[-1] == ("m1", "print", "1:ar")

    for bad in ("xx", "AR", "de-DE"):
        assert node.client.get(f"{API}/plans/{pid}/document.pdf?lang={bad}", headers=as_m1).status_code == 422
    assert node.client.get(f"{API}/plans/{pid}/document.pdf?version=9", headers=as_m1).status_code == 404
    assert node.client.get(f"{API}/plans/{pid}/document.pdf", headers=manager(node, "m2")).status_code == 404
