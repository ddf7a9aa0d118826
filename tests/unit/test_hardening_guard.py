"""The request guard: sizes and callers are known before a body is read (ASGI level, no server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from shared.auth import Authenticator, issue_dev_token
from shared.runtime.guard import RequestGuard, max_body

TENANT = "08111000"


def app_with_guard(tmp_path: Path, limit: int = 1024) -> tuple[FastAPI, list[int]]:
    """An app whose routes read their whole body; `read` counts the bytes they got."""
    app = FastAPI()
    app.state.authenticator = Authenticator(node_id="n1", data_dir=tmp_path, tenants=[TENANT])
    read: list[int] = []

    @app.post("/api/x/v1/small")
    async def small(request: Request) -> dict[str, int]:
        read.append(len(await request.body()))
        return {"read": read[-1]}

    @app.post("/api/x/v1/large", openapi_extra=max_body(10_000))
    async def large(request: Request) -> dict[str, int]:
        read.append(len(await request.body()))
        return {"read": read[-1]}

    app.add_middleware(RequestGuard, default_limit=limit)
    return app, read


def call(app: FastAPI, path: str, chunks: list[bytes], headers: dict[str, str]) -> tuple[int, Any, int]:
    """One request through the ASGI app; returns status, JSON body and how many chunks the app pulled."""
    pulled, sent = 0, []
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= len(chunks):
            await asyncio.sleep(3600)  # the client sends nothing more
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": raw, "root_path": "", "scheme": "http", "server": ("t", 80), "client": ("c", 1),
             "http_version": "1.1", "asgi": {"version": "3.0"}, "app": app}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def token(tmp_path: Path, tenants: list[str] | None = None) -> dict[str, str]:
    jwt = issue_dev_token(tmp_path, node_id="n1", node_tenants=[TENANT, "08221000"], sub="amina",
                          roles=["manager"], tenants=tenants or [TENANT])
    return {"authorization": f"Bearer {jwt}"}


def test_a_declared_length_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    app, read = app_with_guard(tmp_path)
    status, body, pulled = call(app, "/api/x/v1/small", [b"x" * 2000], {"content-length": "2000", **token(tmp_path)})
    assert status == 413 and pulled == 0 and read == []
    assert body["detail"][0]["field"] == "body" and "1024" in body["detail"][0]["reason"]


def test_an_anonymous_api_request_is_refused_before_its_body(tmp_path: Path) -> None:
    app, read = app_with_guard(tmp_path)
    status, body, pulled = call(app, "/api/x/v1/small", [b"{}"], {"content-length": "2"})
    assert (status, pulled, read) == (401, 0, [])
    status, _, pulled = call(app, "/api/x/v1/small", [b"{}"], {"content-length": "2", "authorization": "Bearer x"})
    assert (status, pulled, read) == (401, 0, [])


def test_a_chunked_body_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    app, read = app_with_guard(tmp_path)
    chunks = [b"x" * 512] * 100  # 50 KB announced by no length
    status, body, pulled = call(app, "/api/x/v1/small", chunks, token(tmp_path))
    assert status == 413 and body["detail"][0]["field"] == "body"
    assert pulled == 3 and read == []  # the third chunk passed 1024 bytes: nothing after it was read


def test_a_route_may_declare_a_larger_limit(tmp_path: Path) -> None:
    app, read = app_with_guard(tmp_path)
    status, body, _ = call(app, "/api/x/v1/large", [b"x" * 5000], {"content-length": "5000", **token(tmp_path)})
    assert (status, body) == (200, {"read": 5000})
    status, _, _ = call(app, "/api/x/v1/large", [b"x" * 20_000], {"content-length": "20000", **token(tmp_path)})
    assert status == 413


def test_a_token_for_no_tenant_of_the_node_is_refused(tmp_path: Path) -> None:
    app, read = app_with_guard(tmp_path)
    status, body, _ = call(app, "/api/x/v1/small", [b"{}"], {"content-length": "2", **token(tmp_path, ["08221000"])})
    assert status == 401 and "tenant" in body["detail"] and read == []
