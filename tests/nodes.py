"""Run a whole node in-process (real embedded server, SQLite) and call it over HTTP as a user would."""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from shared.auth import issue_dev_token
from shared.runtime.app import build_app
from shared.runtime.logging import UVICORN_LOGGING
from shared.runtime.node import Node
from shared.settings import WEB, Settings

STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"


class NodeHandle:
    """A started node: its HTTP client, settings, and a way to make tokens for it."""

    def __init__(self, client: TestClient, node: Node) -> None:
        self.client = client
        self.node = node
        self.settings = node.settings

    def token(self, sub: str, *roles: str, tenants: list[str] | None = None) -> str:
        return issue_dev_token(self.settings.data_dir, node_id=self.settings.node_id,
                               node_tenants=self.settings.tenants, sub=sub, roles=list(roles),
                               tenants=tenants if tenants is not None else [self.settings.tenants[0]])

    def headers(self, sub: str, *roles: str, tenants: list[str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, *roles, tenants=tenants)}"}

    def call(self, method: str, path: str, *, as_: dict[str, str], **kw: Any) -> Any:
        return self.client.request(method, path, headers=as_, **kw)


def node_settings(tmp: Path, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "node_id": "test-node", "tenants": [STUTTGART, HEIDELBERG], "data_dir": tmp / "node",
        "redis_url": redis_url, "reclaim_idle_ms": 500, "reclaim_interval_ms": 100, "block_ms": 50,
        "outbox_interval_ms": 20, "scheduler_interval_s": 0.2,
        # An in-process state node keeps its ingest in the test's process, where its spans and internals are
        # seen; the child process (the default with two cores) is tested in test_ingest_process.py and runs
        # in every subprocess node (the demo, the benches).
        "ingest_process": "off",
        # Tests poll statistics every 50 ms until events arrive, where a client past the production budget
        # (burst 30, then one a second) gets 429s: a node under test gives its callers room. The limiter is
        # tested with its own small budget (test_hardening_limits.py) and by nodes run as operators run them.
        "rate_limit_burst": 100_000,
    }
    values.update(overrides)
    if "services" in values:  # the web app is served too, as on every all-in-one node; it needs no bus
        values["services"] = [*dict.fromkeys([*values["services"], WEB])]
    return Settings(**values)


STOP_S = 60.0


@contextmanager
def running_node(tmp: Path, redis_url: str, **overrides: Any) -> Iterator[NodeHandle]:
    """Start a node (all services unless `services=` is given) and stop it cleanly afterwards."""
    node = Node(node_settings(tmp, redis_url, **overrides))
    client = TestClient(build_app(node))
    client.__enter__()
    try:
        yield NodeHandle(client, node)
    finally:
        stop_within(client, STOP_S)


def stop_within(client: TestClient, seconds: float) -> None:
    """Stop an in-process node: its lifespan's shutdown, then the TestClient's event-loop thread.

    Rarely (a few times in hundreds of runs, only for nodes with a federation link), the event-loop thread
    finishes but its thread state is never released, and joining it waits forever: the run's timeout then
    fails the test in its teardown. Such a stop is reported with every thread's stack and left behind.
    """
    stopped, failed = threading.Event(), []

    def stop() -> None:
        try:
            client.__exit__(None, None, None)
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)
        finally:
            stopped.set()

    threading.Thread(target=stop, name="stop-node", daemon=True).start()
    if not stopped.wait(seconds):
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        warnings.warn(f"an in-process node did not stop within {seconds:.0f} s; its threads are left behind",
                      stacklevel=2)
        return
    if failed:
        raise failed[0]


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll a synchronous check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s (last: {value!r})")
        time.sleep(interval)


@contextmanager
def serving_node(settings: Settings) -> Iterator[str]:
    """A node serving HTTP on its port (uvicorn in a thread), as browsers and concurrent clients reach it."""
    server = uvicorn.Server(uvicorn.Config(build_app(Node(settings)), host="127.0.0.1", port=settings.http_port,
                                           lifespan="on", **UVICORN_LOGGING))
    thread = threading.Thread(target=server.run, name=f"node-{settings.node_id}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the node did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
