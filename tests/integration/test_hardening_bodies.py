"""Hostile bodies: too large or anonymous, they are refused before they are read, and the node stays small."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.integration.node_process import node_process, rss_kib
from tests.nodes import STUTTGART, NodeHandle

MB = 1024 * 1024
CASES = "/api/cases/v1/cases"


def test_over_limit_bodies_answer_413_and_anonymous_ones_401(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", tenants=[STUTTGART])
    lead = node.headers("lead-1", "lead")
    big = b'{"x": "' + b"a" * 70_000 + b'"}'
    answer = node.client.post(CASES, content=big, headers={**lead, "content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["detail"][0]["field"] == "body"

    def chunks():  # no Content-Length: the client streams it
        yield b'{"x": "'
        for _ in range(20):
            yield b"a" * 10_000
        yield b'"}'

    answer = node.client.post(CASES, content=chunks(), headers={**lead, "content-type": "application/json"})
    assert answer.status_code == 413
    assert node.client.post(CASES, content=b"{}", headers={"content-type": "application/json"}).status_code == 401
    assert node.client.get(CASES).status_code == 401


def attack(base: str, size: int, results: list[str]) -> None:
    """Send a `size`-byte JSON body without a token, as fast as the node takes it; record the status line."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"POST {CASES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {size}\r\n\r\n".encode())
        chunk, sent, reply = b"a" * (256 * 1024), 0, b""
        try:
            while sent < size:
                if select.select([sock], [], [], 0)[0]:  # the node answered before taking the rest
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the node closed the connection: it will not read the rest
        try:
            reply = sock.recv(200)
        except OSError:
            reply = b""
        results.append(reply.split(b"\r\n", 1)[0].decode(errors="replace"))


def test_twenty_concurrent_20_mb_bodies_leave_the_node_small(tmp_path: Path) -> None:
    with node_process(tmp_path / "node", LOTSE_SERVICES="cases") as (proc, base):
        attack(base, 100, [])  # warm: the first request loads what every request needs
        assert "server" not in httpx.get(f"{base}/healthz").headers  # no "Server: uvicorn"
        before, peak, done = rss_kib(proc.pid), 0, threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_kib(proc.pid))
                done.wait(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        results: list[str] = []
        attackers = [threading.Thread(target=attack, args=(base, 20 * MB, results)) for _ in range(20)]
        for t in attackers:
            t.start()
        for t in attackers:
            t.join(60)
        done.set()
        watcher.join()
        peak = max(peak, rss_kib(proc.pid))
        assert results == ["HTTP/1.1 413 Request Entity Too Large"] * 20
        assert (peak - before) < 20 * 1024, f"RSS grew from {before} KiB to {peak} KiB"
