"""The node's OpenAPI document as the node behaves: its error bodies, its refusals, its bearer tokens."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SCHEME = "bearerAuth"
FIELDS = {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
PROBLEM = {"type": "object", "required": ["detail"],
           "properties": {"detail": {"anyOf": [{"type": "string"}, FIELDS]}},
           "description": "a refusal: one sentence, or the fields in error and why"}
FIELD_ERROR = {"type": "object", "required": ["field", "reason"],
               "properties": {"field": {"type": "string", "description": "the field in error, e.g. `languages.0`"},
                              "reason": {"type": "string"}}}
INVALID = {"type": "object", "required": ["detail"],
           "properties": {"detail": FIELDS}, "description": "each field in error and why; nothing was written"}
RETRY = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
BEARER = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
WRITES = ("post", "put", "patch", "delete")


def answer(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if headers:
        body["headers"] = headers
    return body


def refusals(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The error answers the node may give for this operation (see shared/http.py, guard.py, ratelimit.py)."""
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    found = {
        "401": answer("no valid bearer token (checked before the body is read)", "Problem", BEARER),
        "403": answer("the caller's roles do not allow this", "Problem"),
        "429": answer("too many requests from this caller; try again after Retry-After", "Problem", RETRY),
        "503": answer("the node cannot commit right now; try again after Retry-After", "Problem", RETRY),
    }
    found["404"] = answer("no such object for this caller (another tenant's answers the same)", "Problem")
    if method in WRITES:
        found["409"] = answer("the object's state does not allow this now", "Problem")
    if body:
        found["413"] = answer("the body is larger than this operation accepts (read no further)", "InvalidFields")
    if params or body:
        found["422"] = answer("invalid input", "InvalidFields")
    return found


def node_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, corrected: {field, reason} bodies, every refusal, the bearer scheme (cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(Problem=PROBLEM, FieldError=FIELD_ERROR, InvalidFields=INVALID)
    doc["components"]["securitySchemes"] = {SCHEME: {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "an OIDC access token of the node's issuer, or a dev token (`lotse token`)"}}
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's {loc, msg, type}: the node sends {field, reason}
            for code, refusal in refusals(path, method, operation).items():
                responses.setdefault(code, refusal)
            if path.startswith("/api/"):
                operation["security"] = [{SCHEME: []}]
    app.openapi_schema = doc
    return doc
