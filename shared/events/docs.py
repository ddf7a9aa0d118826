"""The published catalogue: AsyncAPI 3.0, one JSON Schema per contract and a table, all from the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared import VERSION

from . import Envelope, contracts
from .envelope import Contract
from .registry import Hop, route, stream_of
from .streams import FED_DOWN, FED_UP, STREAMS

__all__ = ["asyncapi_document", "catalogue_markdown", "contract_schema", "incompatibilities", "write_docs"]

# AsyncAPI channel ids: a node's streams by their service name, the federation hop by direction.
CHANNEL_IDS = {**{stream: name for name, stream in STREAMS.items()},
               FED_UP: "federation-up", FED_DOWN: "federation-down"}
CHANNEL_TEXT = {
    FED_UP: "The federation hop up: on the state's Redis, one stream per municipal node, written only by "
            "that node's relay. Each entry has `event` (the envelope of the pseudonymous projection: "
            "local-only fields dropped, case/plan ids pseudonymised) and `sig` (the node's signature).",
    FED_DOWN: "The federation hop down: on the state's Redis, one stream per municipal node, read only "
              "by that node's relay, which republishes each entry on its own lotse:events:federation.",
}
SERVERS = {
    "node": {"host": "localhost:6379", "protocol": "redis",
             "description": "A node's own Redis (LOTSE_REDIS_URL, or the embedded server)."},
    "municipal": {"host": "localhost:6379", "protocol": "redis",
                  "description": "A municipal node's own Redis."},
    "state": {"host": "localhost:6379", "protocol": "redis",
              "description": "The state node's Redis, which also holds the federation streams."},
}
WHERE = {"node": "the producing node's Redis", "municipal": "the municipal node's Redis",
         "state": "the state's Redis"}
ANNOTATIONS = ("description", "title", "examples")


def key_of(contract: type[Contract]) -> str:
    return f"{contract.event_type}.v{contract.version}"


def lotse_info(contract: type[Contract]) -> dict[str, Any]:
    """What the catalogue says about a contract beyond its payload: scope, streams, privacy."""
    return {"type": contract.event_type, "version": contract.version, "scope": contract.scope,
            "stream": stream_of(contract),
            "route": [{"stream": hop.stream, "redis": hop.redis} for hop in route(contract)],
            "pseudonymised": list(contract.pseudonymised_fields),
            "local_only": list(contract.local_only_fields)}


def contract_schema(contract: type[Contract]) -> dict[str, Any]:
    schema = contract.model_json_schema(mode="serialization")
    schema["x-lotse"] = lotse_info(contract)
    return schema


def _components_schema(model: type[Envelope] | type[Contract], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's schema with its definitions hoisted into components.schemas (shared by name)."""
    schema = model.model_json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both called {name!r}")
    return schema


def _channel(stream: str, servers: set[str]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": stream, "title": stream, "messages": {},
        "description": CHANNEL_TEXT.get(stream, "A Redis stream on the node's bus; each entry has one "
                                                "field `event` holding the JSON envelope."),
        "servers": [{"$ref": f"#/servers/{name}"} for name in sorted(servers)],
    }
    if "{node}" in stream:
        channel["parameters"] = {"node": {"description": "The municipal node's id."}}
    return channel


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0: one channel per stream (the federation hop included), one message per contract."""
    schemas: dict[str, Any] = {}
    schemas["Envelope"] = _components_schema(Envelope, schemas)
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    hops: dict[str, list[tuple[type[Contract], int, Hop]]] = {}
    for _, contract in sorted(contracts().items()):
        key = key_of(contract)
        schemas[key] = _components_schema(contract, schemas)
        messages[key] = {"name": contract.event_type, "title": f"{contract.event_type} v{contract.version}",
                         "summary": (contract.__doc__ or "").strip(), "contentType": "application/json",
                         "payload": {"$ref": f"#/components/schemas/{key}"}, "x-lotse": lotse_info(contract)}
        for number, hop in enumerate(route(contract), start=1):
            hops.setdefault(hop.stream, []).append((contract, number, hop))
    order = list(CHANNEL_IDS)  # a node's streams first, then the federation hop up and down
    for stream, entries in sorted(hops.items(), key=lambda item: order.index(item[0])):
        cid = CHANNEL_IDS[stream]
        channel = channels[cid] = _channel(stream, {hop.redis for _, _, hop in entries})
        for contract, number, hop in entries:
            key = key_of(contract)
            channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
            steps = len(route(contract))
            operations[f"{key}.{cid}.{hop.redis}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{cid}"},
                "title": f"{contract.event_type} v{contract.version} to {stream} ({hop.redis})",
                "summary": f"Hop {number} of {steps}, on {WHERE[hop.redis]}: appended by {hop.by}.",
                "messages": [{"$ref": f"#/channels/{cid}/messages/{key}"}]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Lotse event catalogue", "version": VERSION,
                 "description": "Events on Lotse's Redis Streams: a node's own bus and the federation hop "
                                "between municipal nodes and the state. Every entry holds the JSON envelope "
                                "(components/schemas/Envelope) whose `payload` is the message below."},
        "defaultContentType": "application/json",
        "servers": {name: SERVERS[name] for name in sorted({h.redis for e in hops.values() for *_, h in e})},
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def catalogue_markdown() -> str:
    """A table of every contract and the streams it travels on, for people."""
    lines = ["# Event catalogue", "",
             "Generated from the contracts in `shared/events/` (`make events-docs`); do not edit.",
             "`{node}` is a municipal node's id; streams marked (state) live on the state node's Redis.", "",
             "| Event | Scope | Travels on | Pseudonymised | Local only |",
             "| --- | --- | --- | --- | --- |"]
    for _, contract in sorted(contracts().items()):
        hops = " → ".join(f"`{hop.stream}` ({hop.redis})" for hop in route(contract))
        lines.append(f"| [{key_of(contract)}](schemas/{key_of(contract)}.json) | {contract.scope} | {hops} | "
                     f"{', '.join(contract.pseudonymised_fields) or '–'} | "
                     f"{', '.join(contract.local_only_fields) or '–'} |")
    lines += ["", "The machine-readable catalogue is [asyncapi.json](asyncapi.json); a node shows it at "
                  "`/docs/events`."]
    return "\n".join(lines) + "\n"


def write_docs(out: Path) -> list[Path]:
    (out / "schemas").mkdir(parents=True, exist_ok=True)
    files: dict[Path, str] = {
        out / "asyncapi.json": json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n",
        out / "README.md": catalogue_markdown(),
        out / "schemas" / "envelope.json": json.dumps(Envelope.model_json_schema(), indent=2, sort_keys=True) + "\n",
    }
    for _, contract in sorted(contracts().items()):
        schema = json.dumps(contract_schema(contract), indent=2, sort_keys=True) + "\n"
        files[out / "schemas" / f"{key_of(contract)}.json"] = schema
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why `new` cannot replace `old` under the same version (empty list: compatible).

    Allowed without a new version: adding optional properties. Anything else breaks readers.
    Both are compared as they validate: `$ref`s to `$defs` inlined, annotations dropped.
    """
    problems = []
    old_props = _wire(old.get("properties", {}), old.get("$defs", {}))
    new_props = _wire(new.get("properties", {}), new.get("$defs", {}))
    for name, spec in old_props.items():
        if name not in new_props:
            problems.append(f"property {name!r} removed")
        elif spec != new_props[name]:
            problems.append(f"property {name!r} changed")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"property {name!r} is newly required")
    return problems


def _wire(node: Any, defs: dict[str, Any], names: bool = False) -> Any:
    """`node` with local `$ref`s replaced by their definitions and without annotations.

    `names`: node maps property names to schemas, so its keys are data, not keywords.
    """
    if isinstance(node, list):
        return [_wire(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if not names and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        target = defs[node["$ref"].removeprefix("#/$defs/")]
        return _wire({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    out = {key: _wire(value, defs, names=not names and key in ("properties", "patternProperties"))
           for key, value in node.items() if names or key not in ANNOTATIONS}
    if not names and isinstance(out.get("enum"), list):  # the order of a code list is not on the wire
        out["enum"] = sorted(out["enum"], key=json.dumps)
    return out
