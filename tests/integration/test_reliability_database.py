"""A database that cannot write for a while: no dead letters, every effect once afterwards, 503 meanwhile."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from redis import Redis as SyncRedis

from shared.events import DEAD_LETTERS
from shared.runtime.embedded import EmbeddedServer
from tests.integration.reliability import CASE, EFFECTS, effects_per_case, install_counting_service, open_cases
from tests.nodes import eventually, running_node


def test_a_consumer_database_unwritable_dead_letters_nothing(valkey: EmbeddedServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    install_counting_service(monkeypatch)
    monkeypatch.setattr("shared.db.BUSY_TIMEOUT_S", 1)  # each failed write is known within a second
    redis = SyncRedis.from_url(valkey.url)
    with running_node(tmp_path, valkey.url, services=["cases", EFFECTS]) as node:
        before = open_cases(node, 3)
        eventually(lambda: len(effects_per_case(node)) == 3)
        with closing(sqlite3.connect(node.settings.data_dir / f"{EFFECTS}.db", isolation_level=None)) as blocker:
            blocker.execute("BEGIN EXCLUSIVE")  # no other writer until it ends (readers go on: WAL)
            during = open_cases(node, 10)  # cases still writes; the consumer cannot apply their events
            ready = eventually(lambda: (lambda r: r.json() if r.status_code == 503 else None)(
                node.client.get("/readyz")))
            assert ready["checks"][f"db:{EFFECTS}"] is False and ready["checks"]["db:cases"] is True
            time.sleep(8)  # longer than max_deliveries x reclaim idle: before, these became dead letters
            blocker.execute("ROLLBACK")
        eventually(lambda: len(effects_per_case(node)) == 13, timeout=30)
        assert set(effects_per_case(node)) == {*before, *during} and set(effects_per_case(node).values()) == {1}
        assert redis.xlen(DEAD_LETTERS) == 0
        eventually(lambda: node.client.get("/readyz").status_code == 200)
    redis.close()


def test_a_write_the_database_cannot_take_answers_503_with_retry_after(
    valkey: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.db.BUSY_TIMEOUT_S", 1)
    with running_node(tmp_path, valkey.url, services=["cases"]) as node:
        open_cases(node, 1)
        with closing(sqlite3.connect(node.settings.data_dir / "cases.db", isolation_level=None)) as blocker:
            blocker.execute("BEGIN EXCLUSIVE")
            answer = node.client.post("/api/cases/v1/cases", json=CASE, headers=node.headers("m1", "manager"))
            blocker.execute("ROLLBACK")
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json() == {"detail": "the database is unavailable; nothing was written, try again",
                                 "retry_after": 5}
        listed = node.client.get("/api/cases/v1/cases", headers=node.headers("m1", "manager")).json()
        assert len(listed["items"]) == 1  # nothing half written
