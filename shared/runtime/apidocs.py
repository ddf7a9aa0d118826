"""The node's documentation pages, served from installed or vendored assets only (they work offline).

/docs: Swagger UI (the `swagger_ui_bundle` package); /redoc: Redoc (vendored in static/redoc);
/docs/events: the AsyncAPI event catalogue rendered on the server; /docs/events/asyncapi.json: the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from swagger_ui_bundle import swagger_ui_path

from shared.events.docs import asyncapi_document

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
# AsyncAPI descriptions are CommonMark; of that the catalogue uses `code` only.
templates.filters["code"] = lambda text: Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))
_COMMON = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# Swagger UI and Redoc run their own scripts from /static and style elements inline; Redoc's
# search runs in a worker made from a blob. No other origin is allowed anything.
SCRIPTED_CSP = (f"{_COMMON}; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:")
STATIC_CSP = f"{_COMMON}; style-src 'self'; img-src 'self'"  # /docs/events: no script at all


@dataclass
class FieldView:
    name: str
    type: str
    required: bool
    notes: list[str]


@dataclass
class MessageView:
    key: str
    title: str
    summary: str
    lotse: dict[str, Any]
    fields: list[FieldView]


@dataclass
class ChannelView:
    id: str
    address: str
    description: str
    servers: list[str]
    hops: list[tuple[str, str]] = field(default_factory=list)  # (message key, how it gets here)


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(spec: dict[str, Any], schemas: dict[str, Any]) -> str:
    """A schema's type as a person reads it: `string (date)`, `list of Topic`, `Mode: one of …`."""
    if "$ref" in spec:
        name = _name(spec["$ref"])
        target = schemas.get(name, {})
        return f"{name}: one of {', '.join(map(str, target['enum']))}" if "enum" in target else name
    if "anyOf" in spec:
        return " or ".join(type_text(option, schemas) for option in spec["anyOf"])
    if "enum" in spec:
        return "one of " + ", ".join(map(str, spec["enum"]))
    kind = str(spec.get("type", "any"))
    if kind == "array":
        return f"list of {type_text(spec.get('items', {}), schemas)}"
    return f"{kind} ({spec['format']})" if "format" in spec else kind


CONSTRAINTS = {"minimum": "≥ {}", "maximum": "≤ {}", "exclusiveMinimum": "> {}", "exclusiveMaximum": "< {}",
               "minLength": "at least {} characters", "maxLength": "at most {} characters",
               "pattern": "matches {}", "minItems": "at least {} items", "maxItems": "at most {} items"}


def field_views(schema: dict[str, Any], schemas: dict[str, Any],
                lotse: dict[str, Any] | None = None) -> list[FieldView]:
    required = set(schema.get("required", []))
    views = []
    for name, spec in schema.get("properties", {}).items():
        parts = [spec, *spec.get("anyOf", [])]  # `str | None` keeps the str's limits in its option
        notes = [text.format(part[key]) for part in parts for key, text in CONSTRAINTS.items() if key in part]
        if "default" in spec and name not in required:
            notes.append(f"default {spec['default']!r}" if spec["default"] is not None else "optional")
        if lotse and name in lotse["pseudonymised"]:
            notes.append("pseudonymised before it leaves the node")
        if lotse and name in lotse["local_only"]:
            notes.append("local only: never leaves the node")
        if spec.get("description"):
            notes.append(spec["description"])
        views.append(FieldView(name, type_text(spec, schemas), name in required, notes))
    return views


@cache
def catalogue() -> dict[str, Any]:
    """The AsyncAPI document and the views of /docs/events (the registry does not change at run time)."""
    doc = asyncapi_document()
    schemas = doc["components"]["schemas"]
    messages = {key: MessageView(key, msg["title"], msg["summary"], msg["x-lotse"],
                                 field_views(schemas[_name(msg["payload"]["$ref"])], schemas, msg["x-lotse"]))
                for key, msg in doc["components"]["messages"].items()}
    channels = {cid: ChannelView(cid, ch["address"], ch["description"], [_name(s["$ref"]) for s in ch["servers"]])
                for cid, ch in doc["channels"].items()}
    for op in doc["operations"].values():
        channels[_name(op["channel"]["$ref"])].hops.append((_name(op["messages"][0]["$ref"]), op["summary"]))
    return {"doc": doc, "messages": messages, "channels": channels,
            "envelope": field_views(schemas["Envelope"], schemas)}


def _page(name: str, csp: str, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values),
                        headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"})


def mount_docs(app: FastAPI) -> None:
    """Add /docs, /redoc, /docs/events and the assets they load from /static."""
    app.mount("/static/swagger-ui", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def values(request: Request) -> dict[str, Any]:
        base = request.scope.get("root_path", "").rstrip("/")
        return {"title": app.title, "base": base, "openapi_url": base + (app.openapi_url or "")}

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        return _page("swagger.html", SCRIPTED_CSP, **values(request))

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return _page("redoc.html", SCRIPTED_CSP, **values(request))

    @app.get("/docs/events", include_in_schema=False)
    async def events(request: Request) -> HTMLResponse:
        return _page("events.html", STATIC_CSP, **values(request), **catalogue())

    @app.get("/docs/events/asyncapi.json", include_in_schema=False)
    async def events_document() -> JSONResponse:
        return JSONResponse(catalogue()["doc"])
