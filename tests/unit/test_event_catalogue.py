"""docs/events names the streams each contract travels on, as the registry declares and the code moves it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events import Contract, contracts, latest, route
from shared.events.docs import write_docs
from shared.events.funding import ExtensionDecided
from shared.events.registry import contract
from shared.events.streams import CASES, FED_DOWN, FED_UP, FEDERATION, FUNDING
from shared.federation.keys import down_stream, inbound_stream
from shared.federation.relay import UP_STREAMS
from shared.service import LevelName, ServiceContext, discover
from shared.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
ASYNCAPI = json.loads((DOCS / "asyncapi.json").read_text())


def channels_carrying(key: str) -> set[str]:
    return {ch["address"] for ch in ASYNCAPI["channels"].values() if key in ch["messages"]}


def test_docs_events_is_what_the_registry_generates(tmp_path: Path) -> None:
    written = {p.relative_to(tmp_path) for p in write_docs(tmp_path)}
    checked_in = {p.relative_to(DOCS) for p in DOCS.rglob("*") if p.is_file()}
    assert checked_in == written, "run `make events-docs` and commit docs/events"
    stale = [str(p) for p in written if (tmp_path / p).read_text() != (DOCS / p).read_text()]
    assert not stale, f"run `make events-docs` and commit docs/events: {stale} differ"


@pytest.mark.parametrize("key", sorted(contracts()), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_docs_name_the_streams_the_contract_declares(key: tuple[str, int]) -> None:
    declared = contracts()[key]
    hops = [{"stream": hop.stream, "redis": hop.redis} for hop in route(declared)]
    name = f"{key[0]}.v{key[1]}"
    schema = json.loads((DOCS / "schemas" / f"{name}.json").read_text())
    assert schema["x-lotse"]["stream"] == declared.stream
    assert schema["x-lotse"]["route"] == hops
    assert ASYNCAPI["components"]["messages"][name]["x-lotse"]["route"] == hops
    assert channels_carrying(name) == {hop["stream"] for hop in hops}
    row = next(line for line in (DOCS / "README.md").read_text().splitlines() if line.startswith(f"| [{name}]"))
    assert " → ".join(f"`{h['stream']}` ({h['redis']})" for h in hops) in row


def test_extension_decided_travels_down_to_the_node_then_on_its_federation_stream() -> None:
    assert [(hop.stream, hop.redis) for hop in route(ExtensionDecided)] == [
        ("lotse:fed:down:{node}", "state"), ("lotse:events:federation", "municipal")]
    assert channels_carrying("ExtensionDecided.v1") == {"lotse:fed:down:{node}", "lotse:events:federation"}
    assert "lotse:events:funding" not in json.dumps(json.loads(
        (DOCS / "schemas" / "ExtensionDecided.v1.json").read_text())["x-lotse"])


def test_the_asyncapi_document_shows_the_federation_hop() -> None:
    by_address = {ch["address"]: ch for ch in ASYNCAPI["channels"].values()}
    up, down = by_address[FED_UP], by_address[FED_DOWN]
    assert FED_UP.format(node="node-a") == inbound_stream("node-a")
    assert FED_DOWN.format(node="node-a") == down_stream("node-a")
    assert set(up["parameters"]) == set(down["parameters"]) == {"node"}
    assert up["servers"] == down["servers"] == [{"$ref": "#/servers/state"}]
    keyed = {f"{c.event_type}.v{c.version}": c for c in contracts().values()}
    assert set(up["messages"]) == {k for k, c in keyed.items() if c.scope == "up"}
    # down: what the state sends, and what it relays unread from one municipal node to another
    assert set(down["messages"]) == {k for k, c in keyed.items() if c.scope == "down" or c.relayed}
    sends = [op for op in ASYNCAPI["operations"].values() if op["channel"]["$ref"].endswith("/federation-up")]
    assert sends and all(op["action"] == "send" for op in sends)


def _settings(level: LevelName, tmp_path: Path) -> Settings:
    municipal = level == "municipal"
    return Settings(node_id="node-a" if municipal else "state", level=level, data_dir=tmp_path / level,
                    tenants=["08111000"] if municipal else ["08000000"])


@pytest.mark.parametrize("level", ["municipal", "state"])
def test_consumers_read_each_event_from_a_stream_it_is_declared_to_travel_on(level: LevelName,
                                                                            tmp_path: Path) -> None:
    settings, checked = _settings(level, tmp_path), 0
    for name, spec in discover().items():
        for sub in spec.at(level).subscriptions(ServiceContext(name, settings, None)):
            for event_type in sub.handlers:
                here = {hop.stream for hop in route(latest(event_type)) if hop.redis in ("node", level)}
                assert sub.stream in here, f"{name} reads {event_type} from {sub.stream}; it travels on {here}"
                checked += 1
    assert checked


def test_the_relay_forwards_every_stream_up_scoped_contracts_are_appended_to() -> None:
    local = {c.stream for c in contracts().values() if c.scope == "up" and c.stream != FED_UP}
    assert local <= set(UP_STREAMS)


def _contract(name: str, **attrs: Any) -> type[Contract]:
    return type(name, (Contract,), {"__module__": __name__, "event_type": name, **attrs})


def test_a_contract_declares_a_stream_it_can_travel_on() -> None:
    with pytest.raises(ValueError, match="declare `stream`"):
        contract(_contract("Nowhere"))
    with pytest.raises(ValueError, match="declare `stream`"):
        contract(_contract("Elsewhere", stream="lotse:events:elsewhere"))
    with pytest.raises(ValueError, match="arrives on"):
        contract(_contract("DownOnCases", scope="down", stream=CASES))
    with pytest.raises(ValueError, match="only up-scoped"):
        contract(_contract("LocalUp", scope="local", stream=FED_UP))
    assert ("Nowhere", 1) not in contracts()
    assert ExtensionDecided.stream == FEDERATION and latest("PositionRegistered").stream == FUNDING
