"""What every answer says about itself: never cached, never sniffed, bounded numbers, no server banner."""

from __future__ import annotations

from collections.abc import Callable

from tests.nodes import STUTTGART, NodeHandle

CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 4, "accommodation_since": "2023-02-01"}


def test_every_answer_carries_the_security_headers(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", tenants=[STUTTGART])
    lead = node.headers("lead-1", "lead")
    case = node.client.post("/api/cases/v1/cases", json=CASE, headers=lead)
    assert case.status_code == 201, case.text
    answers = {
        "case": node.client.get(f"/api/cases/v1/cases/{case.json()['id']}", headers=lead),
        "anonymous": node.client.get("/api/cases/v1/cases"),
        "invalid": node.client.get("/api/cases/v1/cases?limit=0", headers=lead),
        "missing": node.client.get("/api/cases/v1/cases/01JZZZZZZZZZZZZZZZZZZZZZZZ", headers=lead),
        "too large": node.client.post("/api/cases/v1/cases", content=b"x" * 70_000, headers=lead),
        "document": node.client.get("/openapi.json"),
        "health": node.client.get("/healthz"),
        "web page": node.client.get("/login"),
    }
    for what, answer in answers.items():
        h = answer.headers
        assert h.get("cache-control") == "no-store", (what, answer.status_code)
        assert h.get("x-content-type-options") == "nosniff", what
        assert h.get("referrer-policy") and h.get("x-frame-options") == "DENY", what
        assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), what
    asset = node.client.get("/static/redoc/redoc.standalone.js")
    assert asset.status_code == 200 and asset.headers.get("cache-control") != "no-store"


def test_integer_parameters_are_bounded(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", "funding", tenants=[STUTTGART])
    lead = node.headers("lead-1", "lead")
    case = node.client.post("/api/cases/v1/cases", json=CASE, headers=lead).json()["id"]
    for path, field in [(f"/api/cases/v1/cases/{case}/audit?cursor=100000000000000000000000", "cursor"),
                        (f"/api/cases/v1/cases/{case}/audit?cursor=-1", "cursor"),
                        ("/api/funding/v1/years/100000000000000000000000", "year")]:
        answer = node.client.get(path, headers=lead)
        assert answer.status_code == 422, (path, answer.status_code, answer.text[:200])
        assert [d["field"] for d in answer.json()["detail"]] == [field]
    assert node.client.get(f"/api/cases/v1/cases/{case}/audit?cursor={2**63 - 1}", headers=lead).status_code == 200


def test_the_api_document_describes_what_the_node_sends(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", "funding", tenants=[STUTTGART])
    doc = node.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["FieldError"]["required"] == ["field", "reason"]
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    opened = doc["paths"]["/api/cases/v1/cases"]["post"]
    assert opened["security"] == [{"bearerAuth": []}]
    assert {"401", "403", "404", "409", "413", "422", "429"} <= set(opened["responses"])
    assert opened["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/InvalidFields")
    case = schemas["CaseCreate"]["properties"]
    assert case["nationality"]["pattern"] == "^[A-Z]{3}$"
    assert case["languages"]["items"]["pattern"] == "^[a-z]{2,3}$"
    headers = {**node.headers("lead-1", "lead"), "content-type": "application/json"}
    for body in (b"\xff", b"{", b"--x"):  # not JSON at all: the body is the field in error
        bad = node.client.post("/api/cases/v1/cases", content=body, headers=headers)
        assert bad.status_code == 422 and [d["field"] for d in bad.json()["detail"]] == ["body"], bad.text
