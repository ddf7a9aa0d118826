"""Contracts are code: checked-in schemas must still describe what the code publishes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events import Envelope, contracts, envelope_for, parse_payload
from shared.events.docs import asyncapi_document, contract_schema, incompatibilities

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
CHECKED_IN = sorted((DOCS / "schemas").glob("*.v*.json"))


def test_every_contract_is_documented() -> None:
    documented = {p.name for p in CHECKED_IN}
    missing = [f"{t}.v{v}.json" for (t, v) in contracts() if f"{t}.v{v}.json" not in documented]
    assert not missing, f"run `make events-docs` and commit docs/events: missing {missing}"


@pytest.mark.parametrize("path", CHECKED_IN, ids=lambda p: p.stem)
def test_checked_in_contract_is_still_compatible(path: Path) -> None:
    old = json.loads(path.read_text())
    key = (old["x-lotse"]["type"], old["x-lotse"]["version"])
    assert key in contracts(), f"{path.name}: contract removed; keep it (with an upcaster)"
    problems = incompatibilities(old, contract_schema(contracts()[key]))
    assert not problems, f"{path.name} changed incompatibly without a new version: {problems}"


def test_incompatible_changes_are_detected() -> None:
    old = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    assert incompatibilities(old, {**old, "properties": {**old["properties"], "c": {}}}) == []
    assert incompatibilities(old, {"properties": {"a": {"type": "string"}}, "required": ["a"]})
    assert incompatibilities(old, {"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                   "required": ["a"]})
    assert incompatibilities(old, {**old, "required": ["a", "b"]})


INLINE = {"properties": {"mode": {"enum": ["office", "phone"], "title": "Mode", "type": "string"},
                         "topics": {"items": {"enum": ["work", "health"], "type": "string"},
                                    "minItems": 1, "title": "Topics", "type": "array"},
                         "reason": {"anyOf": [{"enum": ["moved", "other"], "type": "string"}, {"type": "null"}],
                                    "default": None, "title": "Reason"}},
          "required": ["mode", "topics"]}


def as_refs(office: str = "office", work: str = "work") -> dict[str, Any]:
    """INLINE as pydantic writes it for StrEnum fields: the same wire format through $refs to $defs."""
    return {"$defs": {"Mode": {"description": "How", "enum": ["phone", office], "title": "Mode", "type": "string"},
                      "Topic": {"enum": [work, "health"], "title": "Topic", "type": "string"},
                      "Reason": {"enum": ["moved", "other"], "title": "Reason", "type": "string"}},
            "properties": {"mode": {"$ref": "#/$defs/Mode"},
                           "topics": {"items": {"$ref": "#/$defs/Topic"}, "minItems": 1, "title": "Topics",
                                      "type": "array"},
                           "reason": {"anyOf": [{"$ref": "#/$defs/Reason"}, {"type": "null"}], "default": None}},
            "required": ["mode", "topics"]}


def test_ref_indirection_is_not_a_change_but_a_changed_code_list_is() -> None:
    assert incompatibilities(INLINE, as_refs()) == []
    assert incompatibilities(as_refs(), INLINE) == []
    assert incompatibilities(INLINE, as_refs(office="home")) == ["property 'mode' changed"]  # a value removed
    assert incompatibilities(INLINE, as_refs(work="labour")) == ["property 'topics' changed"]
    narrower = as_refs()
    narrower["$defs"]["Reason"]["enum"] = ["moved"]
    assert incompatibilities(INLINE, narrower) == ["property 'reason' changed"]


def test_a_property_called_title_is_data_not_an_annotation() -> None:
    old = {"properties": {"goal": {"type": "object", "properties": {"title": {"type": "string"}}}}}
    new = {"properties": {"goal": {"type": "object", "properties": {}}}}
    assert incompatibilities(old, new) == ["property 'goal' changed"]


def test_code_lists_as_strenums_are_the_same_wire_format_as_before() -> None:
    """ConsultationRecorded as checked in while its codes were Literals (inline enums) still matches."""
    before = {"mode": {"enum": ["office", "outreach", "phone", "video", "group"], "title": "Mode", "type": "string"},
              "topics": {"items": {"enum": ["language", "work", "housing", "school", "education", "health",
                                            "family", "residence", "benefits", "everyday_life"], "type": "string"},
                         "minItems": 1, "title": "Topics", "type": "array"}}
    now = contract_schema(contracts()[("ConsultationRecorded", 1)])
    old = {"properties": {**now["properties"], **before}, "required": now["required"]}
    assert old["properties"]["mode"] != now["properties"]["mode"]  # an inline enum against a $ref
    assert incompatibilities(old, now) == []


def test_asyncapi_document_lists_every_contract() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    names = " ".join(doc["components"]["messages"])
    for (event_type, version) in contracts():
        assert f"{event_type}.v{version}" in names
    checked = json.loads((DOCS / "asyncapi.json").read_text())
    assert checked == json.loads(json.dumps(doc, sort_keys=True)), "run `make events-docs`"


def test_envelope_round_trip_and_payload_validation() -> None:
    from datetime import date

    from shared.events.funding import ExtensionDecided

    payload = ExtensionDecided(application_id="a", position_id="p", approved=True,
                               decided_on=date(2026, 11, 1))
    env = envelope_for(payload, tenant="08111000", node="state", aggregate_id="p",
                       target_node="node-b")
    again = Envelope.model_validate_json(env.to_json())
    assert again == env and parse_payload(again) == payload
    assert env.scope == "down" and len(env.event_id) == 26
    later = envelope_for(payload, tenant="08111000", node="state", aggregate_id="p")
    assert later.event_id > env.event_id  # time-ordered


V1_PAYLOADS = {  # what a node of the release before new-position applications sends
    "PositionRegistered": {"position_id": "P1", "fte": 0.5, "starts_on": "2025-01-01", "ends_on": "2029-12-31",
                           "status": "approved", "qualification": "academic"},
    "PositionOccupancyChanged": {"position_id": "P1", "occupied": True, "since": "2025-02-01", "status": "occupied"},
    "ExtensionApplied": {"application_id": "A1", "position_id": "P1", "applied_on": "2026-01-05",
                         "current_ends_on": "2029-12-31", "requested_ends_on": "2031-12-31",
                         "kind": "extension_24_months", "justification": "Die Stelle wird weiter gebraucht."},
    "ExtensionDecided": {"application_id": "A1", "position_id": "P1", "approved": True, "decided_on": "2026-02-01",
                         "reason": None, "months": 12},
}


@pytest.mark.parametrize("event_type", sorted(V1_PAYLOADS))
def test_a_version_1_funding_event_reads_as_version_2(event_type: str) -> None:
    from shared.events import Envelope, parse_payload
    v1, v2 = contracts()[(event_type, 1)], contracts()[(event_type, 2)]
    payload = v1.model_validate(V1_PAYLOADS[event_type]).model_dump(mode="json")
    read = parse_payload(Envelope(type=event_type, version=1, tenant="08111000", node="n", aggregate_id="P1",
                                  payload=payload))
    assert type(read) is v2 and read.model_dump(mode="json", include=set(payload)) == payload
    # what version 2 added cannot be sent as version 1: an older node would refuse it
    widened = {"PositionRegistered": {"status": "applied"}, "PositionOccupancyChanged": {"status": "refused"},
               "ExtensionApplied": {"kind": "new_position"}, "ExtensionDecided": {"months": 60}}[event_type]
    with pytest.raises(ValueError):
        v1.model_validate({**payload, **widened})
    assert v2.model_validate({**payload, **widened})
