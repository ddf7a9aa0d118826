"""The client's data-protection rights over HTTP on a real node: consents and information, break-glass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import select

from services.cases.break_glass import BreakGlassGrant
from services.cases.consents import Consent, InformationSheet
from shared import clock
from shared.events import utcnow
from tests.integration.test_cases_service import API, UNKNOWN, consult, counts, lead, manager, open_case
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle, eventually

TODAY = clock.today()
REASON = "Frau Weber ist krank, Termin beim Jobcenter heute"


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", "notifications")


def refused(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return [(d["field"], d["reason"]) for d in r.json()["detail"]]


def rows(node: NodeHandle, table: type) -> int:
    with node.node.contexts["cases"].database.session() as s:
        return len(s.exec(select(table)).all())


def test_consents_are_recorded_withdrawn_and_refused_with_the_field_named(node: NodeHandle) -> None:
    as_m1 = manager(node)
    cid = open_case(node, as_m1)["id"]
    r = node.client.post(f"{API}/cases/{cid}/information-sheets", headers=as_m1,
                         json={"handed_on": TODAY.isoformat(), "language": "ar"})
    assert r.status_code == 201, r.text
    r = node.client.post(f"{API}/cases/{cid}/consents", headers=as_m1, json={
        "purpose": "partner_sharing", "partner": "Jobcenter Stuttgart", "given_on": TODAY.isoformat(),
        "form": "written"})
    assert r.status_code == 201, r.text
    consent = r.json()
    assert (consent["purpose"], consent["partner"], consent["valid"], consent["withdrawn_on"]) == (
        "partner_sharing", "Jobcenter Stuttgart", True, None)
    before = (counts(node), rows(node, Consent), rows(node, InformationSheet))
    for path, body, field, words in [
        ("consents", {"purpose": "partner_sharing", "given_on": TODAY.isoformat(), "form": "oral"}, "partner",
         "required when purpose is partner_sharing"),
        ("consents", {"purpose": "handover", "given_on": TODAY.isoformat(), "form": "oral", "partner": "X"},
         "partner", "must be empty when purpose is handover"),
        ("consents", {"purpose": "advertising", "given_on": TODAY.isoformat(), "form": "oral"}, "purpose", ""),
        ("consents", {"purpose": "handover", "given_on": (TODAY + timedelta(days=1)).isoformat(), "form": "oral"},
         "given_on", "future"),
        ("consents", {"purpose": "handover", "given_on": TODAY.isoformat(), "form": "fax"}, "form", ""),
        ("consents", {"purpose": "handover", "form": "oral"}, "given_on", "required"),
        ("information-sheets", {"handed_on": TODAY.isoformat(), "language": "AR"}, "language", "ISO 639"),
        ("information-sheets", {"language": "ar"}, "handed_on", "required"),
        (f"consents/{consent['id']}/withdraw", {"withdrawn_on": "2001-01-01"}, "withdrawn_on",
         "must not be before the consent's given_on"),
    ]:
        answer = refused(node.client.post(f"{API}/cases/{cid}/{path}", headers=as_m1, json=body))
        assert any(f == field and words in reason for f, reason in answer), (path, field, answer)
    assert (counts(node), rows(node, Consent), rows(node, InformationSheet)) == before  # nothing half written
    r = node.client.post(f"{API}/cases/{cid}/consents/{consent['id']}/withdraw", headers=as_m1)
    assert r.status_code == 200 and r.json()["withdrawn_on"] == TODAY.isoformat() and not r.json()["valid"]
    again = node.client.post(f"{API}/cases/{cid}/consents/{consent['id']}/withdraw", headers=as_m1, json={})
    assert again.status_code == 409 and "already withdrawn" in again.json()["detail"]
    listed = node.client.get(f"{API}/cases/{cid}/consents", headers=as_m1).json()
    assert [s["language"] for s in listed["information_sheets"]] == ["ar"]
    assert [(c["id"], c["valid"]) for c in listed["consents"]] == [(consent["id"], False)]
    trail = node.client.get(f"{API}/cases/{cid}/audit", headers=lead(node)).json()["items"]
    assert [e["action"] for e in trail if e["action"] in (
        "record_information", "record_consent", "withdraw_consent", "read_consents")] == [
        "record_information", "record_consent", "withdraw_consent", "read_consents"]


def test_another_managers_or_tenants_consents_are_missing_like_an_unknown_case(node: NodeHandle) -> None:
    cid = open_case(node, manager(node))["id"]
    other = open_case(node, manager(node))["id"]
    consent = node.client.post(f"{API}/cases/{other}/consents", headers=manager(node), json={
        "purpose": "handover", "given_on": TODAY.isoformat(), "form": "oral"}).json()
    for who, case_id in [(manager(node, "m2"), cid), (lead(node, HEIDELBERG), cid), (manager(node), UNKNOWN)]:
        for method, path in [("GET", "consents"), ("POST", f"consents/{consent['id']}/withdraw")]:
            r = node.client.request(method, f"{API}/cases/{case_id}/{path}", headers=who, json={})
            assert (r.status_code, r.json()) == (404, {"detail": "case not found"}), (who, path)
    # a consent of another case, through this one: missing too
    r = node.client.post(f"{API}/cases/{cid}/consents/{consent['id']}/withdraw", headers=manager(node))
    assert (r.status_code, r.json()) == (404, {"detail": "consent not found"})


def test_break_glass_opens_a_case_for_its_window_marks_the_audit_and_tells_the_lead(node: NodeHandle) -> None:
    as_m1, as_m2 = manager(node), manager(node, "m2")
    cid = open_case(node, as_m1)["id"]
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m2).status_code == 404
    before = counts(node)
    r = node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m2, json={})
    assert refused(r) == [("reason", "Field required")]
    short = refused(node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m2, json={"reason": "  kurz "}))
    assert short[0][0] == "reason"
    assert counts(node) == before and rows(node, BreakGlassGrant) == 0
    # a missing case and another municipality's answer alike; a lead needs no break-glass
    heidelberg = manager(node, "m9", HEIDELBERG)
    for who, case_id, status in [(as_m2, UNKNOWN, 404), (heidelberg, cid, 404), (lead(node), cid, 403)]:
        assert node.client.post(f"{API}/cases/{case_id}/break-glass", headers=who,
                                json={"reason": REASON}).status_code == status
    own = node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m1, json={"reason": REASON})
    assert own.status_code == 409 and "own caseload" in own.json()["detail"]

    r = node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m2, json={"reason": REASON})
    assert r.status_code == 201, r.text
    grant = r.json()
    window = datetime.fromisoformat(grant["until"]) - datetime.fromisoformat(grant["opened_at"])
    assert window == timedelta(hours=3) and (grant["manager"], grant["reason"]) == ("m2", REASON)
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m2).status_code == 200
    assert node.client.get(f"{API}/cases/{cid}/consultations", headers=as_m2).status_code == 200
    assert node.client.get(f"{API}/cases/{cid}", headers=manager(node, "m3")).status_code == 404  # only m2's

    inbox = eventually(lambda: node.client.get("/api/notifications/v1/inbox", headers=lead(node)).json())
    (note,) = [n for n in inbox if n["kind"] == "break_glass_opened"]
    assert note["data"] == {"case_id": cid, "manager": "m2", "until": grant["until"].replace("Z", "+00:00")}
    assert "Jobcenter" not in str(note) and "Weber" not in str(note)  # the reason stays in the case file

    # the window ends: the grant's end is moved into the past, as the clock would
    with node.node.contexts["cases"].database.session() as s:
        row = s.get(BreakGlassGrant, grant["id"])
        assert row is not None
        row.until = utcnow() - timedelta(seconds=1)
        s.add(row)
        s.commit()
    assert node.client.get(f"{API}/cases/{cid}", headers=as_m2).status_code == 404

    trail = node.client.get(f"{API}/cases/{cid}/audit", headers=lead(node)).json()["items"]
    marked = [(e["actor"], e["action"]) for e in trail if e["break_glass"] == grant["id"]]
    assert marked == [("m2", "break_glass"), ("m2", "read"), ("m2", "read_consultations")]
    assert all(e["break_glass"] is None for e in trail if e["actor"] != "m2")
    grants = node.client.get(f"{API}/cases/{cid}/break-glass", headers=lead(node)).json()
    assert [(g["manager"], g["reason"]) for g in grants] == [("m2", REASON)]
    assert node.client.get(f"{API}/cases/{cid}/break-glass", headers=as_m2).status_code == 403
    with node.node.contexts["cases"].database.session() as s:
        assert [g.reason for g in s.exec(select(BreakGlassGrant)).all()] == [REASON]  # opened as it loads


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_the_lead_exports_everything_held_about_the_client_with_who_accessed_it(node: NodeHandle) -> None:
    as_m1, as_m2, as_lead = manager(node), manager(node, "m2"), lead(node)
    cid = open_case(node, as_m1, given_name="Amina", family_name="Kanarienvogel",
                    household_members=[{"relation": "child", "birth_year": 2015}], household_size=2)["id"]
    other = open_case(node, as_m1, given_name="Someone", family_name="Else")["id"]
    assert consult(node, cid, as_m1, note="Bewerbung bei der Stadtbäckerei").status_code == 201
    node.client.post(f"{API}/cases/{cid}/consents", headers=as_m1, json={
        "purpose": "handover", "given_on": TODAY.isoformat(), "form": "oral"})
    node.client.post(f"{API}/cases/{cid}/information-sheets", headers=as_m1,
                     json={"handed_on": TODAY.isoformat(), "language": "ar"})
    node.client.get(f"{API}/cases", headers=as_m1, params={"q": "Kanarien"})
    assert node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m2, json={"reason": REASON}).status_code == 201
    node.client.get(f"{API}/cases/{cid}", headers=as_m2)

    r = node.client.get(f"{API}/cases/{cid}/export", headers=as_lead)
    assert r.status_code == 200, r.text
    x = r.json()
    assert (x["case"]["id"], x["case"]["family_name"], x["case"]["household_members"]) == (
        cid, "Kanarienvogel", [{"relation": "child", "birth_year": 2015}])
    assert [c["note"] for c in x["consultations"]] == ["Bewerbung bei der Stadtbäckerei"]
    assert [c["purpose"] for c in x["consents"]] == ["handover"]
    assert [s["language"] for s in x["information_sheets"]] == ["ar"]
    assert [(g["manager"], g["reason"]) for g in x["break_glass"]] == [("m2", REASON)]
    assert [s["term"] for s in x["searches"]] == ["Kanarien"]
    actions = [(e["actor"], e["action"], e["break_glass"] is not None) for e in x["audit"]]
    assert actions[0] == ("m1", "open", False) and actions[-1] == (f"lead-{STUTTGART}", "export", False)
    assert ("m2", "read", True) in actions and ("m1", "search", False) in actions
    assert other not in r.text and "Someone" not in r.text  # only this client

    pdf = node.client.get(f"{API}/cases/{cid}/export", headers=as_lead, params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for words in ("Auskunft nach Art. 15 DSGVO", "Amina Kanarienvogel", "Bewerbung bei der Stadtbäckerei",
                  "Übergabe an eine andere Kommune", "Fall in Vertretung geöffnet", "Frau Weber ist krank",
                  "Auskunft erstellt"):
        assert words in text.replace("\n", " "), words
    trail = node.client.get(f"{API}/cases/{cid}/audit", headers=as_lead).json()["items"]
    assert [e["action"] for e in trail].count("export") == 2  # JSON and PDF, each recorded

    # only the lead; another municipality's lead and a missing case alike; a wrong format is named
    assert node.client.get(f"{API}/cases/{cid}/export", headers=as_m1).status_code == 403
    for who, case_id in [(lead(node, HEIDELBERG), cid), (as_lead, UNKNOWN)]:
        r = node.client.get(f"{API}/cases/{case_id}/export", headers=who)
        assert (r.status_code, r.json()) == (404, {"detail": "case not found"})
    bad = node.client.get(f"{API}/cases/{cid}/export", headers=as_lead, params={"format": "xml"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "format"


def test_the_plans_part_of_the_export_holds_the_plan_its_versions_and_who_accessed_it(
        start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", "plans")
    as_m1, as_lead = manager(node), lead(node)
    cid = open_case(node, as_m1, given_name="Amina", family_name="Planvogel")["id"]
    plans = "/api/plans/v1"
    plan = eventually(lambda: (r := node.client.get(f"{plans}/plans", headers=as_m1, params={"case_id": cid}))
                      .status_code == 200 and r.json())
    goal = node.client.post(f"{plans}/plans/{plan['id']}/goals", headers=as_m1,
                            json={"area": "work", "title": "Ausbildung als Bäckerin"}).json()
    node.client.post(f"{plans}/plans/{plan['id']}/goals/{goal['id']}/steps", headers=as_m1,
                     json={"what": "Bewerbung schreiben", "who": "client"})
    assert node.client.post(f"{plans}/plans/{plan['id']}/agreements", headers=as_m1, json={
        "agreed_on": TODAY.isoformat(), "language": "ar", "signed_on_paper": True}).status_code == 201

    r = node.client.get(f"{plans}/export", headers=as_lead, params={"case_id": cid})
    assert r.status_code == 200, r.text
    x = r.json()
    assert (x["plan"]["case_id"], [g["title"] for g in x["plan"]["goals"]]) == (cid, ["Ausbildung als Bäckerin"])
    assert [s["what"] for s in x["plan"]["goals"][0]["steps"]] == ["Bewerbung schreiben"]
    assert [(v["number"], v["status"], v["agreement"]["language"]) for v in x["versions"]] == [(1, "agreed", "ar")]
    actions = [(e["actor"], e["action"]) for e in x["audit"]]
    assert ("m1", "agree") in actions and actions[-1] == (f"lead-{STUTTGART}", "export")
    pdf = node.client.get(f"{plans}/export", headers=as_lead, params={"case_id": cid, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content).replace("\n", " ")
    for words in ("Integrationsplan", "Ausbildung als Bäckerin", "Bewerbung schreiben", "vereinbart",
                  "Auskunft erstellt"):
        assert words in text, words
    # only the lead of the case's municipality
    assert node.client.get(f"{plans}/export", headers=as_m1, params={"case_id": cid}).status_code == 403
    assert node.client.get(f"{plans}/export", headers=lead(node, HEIDELBERG),
                           params={"case_id": cid}).status_code == 404


def test_break_glass_opens_the_plan_too_for_its_window_and_marks_the_plans_audit(
        start_node: Callable[..., NodeHandle]) -> None:
    from services.plans.models import StandIn
    node = start_node("cases", "plans")
    as_m1, as_m2, plans = manager(node), manager(node, "m2"), "/api/plans/v1"
    cid = open_case(node, as_m1)["id"]
    plan = eventually(lambda: (r := node.client.get(f"{plans}/plans", headers=as_m1, params={"case_id": cid}))
                      .status_code == 200 and r.json())
    assert node.client.get(f"{plans}/plans", headers=as_m2, params={"case_id": cid}).status_code == 404
    grant = node.client.post(f"{API}/cases/{cid}/break-glass", headers=as_m2, json={"reason": REASON}).json()
    # the plans service learns of the access from BreakGlassOpened
    eventually(lambda: node.client.get(f"{plans}/plans", headers=as_m2, params={"case_id": cid}).status_code == 200)
    assert node.client.post(f"{plans}/plans/{plan['id']}/goals", headers=as_m2,
                            json={"area": "language", "title": "Kurs B1"}).status_code == 201
    assert node.client.get(f"{plans}/plans", headers=manager(node, "m3"), params={"case_id": cid}).status_code == 404
    with node.node.contexts["plans"].database.session() as s:  # the window ends, as the clock would end it
        (access,) = s.exec(select(StandIn)).all()
        access.until = utcnow() - timedelta(seconds=1)
        s.add(access)
        s.commit()
    assert node.client.get(f"{plans}/plans", headers=as_m2, params={"case_id": cid}).status_code == 404
    trail = node.client.get(f"{plans}/audit", headers=lead(node), params={"case_id": cid}).json()["items"]
    marked = [e["action"] for e in trail if e["break_glass"] is not None]
    assert marked == ["read", "add_goal"] and all(e["actor"] == "m2" for e in trail if e["break_glass"])
    assert all(e["break_glass"] is None for e in trail if e["actor"] != "m2") and grant["manager"] == "m2"
