"""Many concurrent writers on a node with few worker threads: every request is answered, none waits forever."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx

from shared import clock
from shared.auth import issue_dev_token
from shared.runtime.embedded import EmbeddedServer, free_port
from tests.nodes import STUTTGART, node_settings, serving_node

CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "accommodation_since": "2023-02-01"}


def test_concurrent_writes_on_two_worker_threads_all_complete(valkey: EmbeddedServer, tmp_path: Path) -> None:
    # Two threads, sixteen clients writing to one SQLite database: a request waiting for the writer lock
    # inside a worker thread must never hold the thread the lock's holder needs for its commit.
    settings = node_settings(tmp_path, valkey.url, services=["cases"], http_port=free_port(), http_threads=2,
                             tenants=[STUTTGART])
    with serving_node(settings) as origin:
        token = issue_dev_token(settings.data_dir, node_id=settings.node_id, node_tenants=settings.tenants,
                                sub="m1", roles=["manager"], tenants=[STUTTGART])

        async def run() -> list[int]:
            async with httpx.AsyncClient(base_url=origin, timeout=20,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                case = (await client.post("/api/cases/v1/cases", json=CASE)).json()["id"]
                held_on = (clock.today() - timedelta(days=1)).isoformat()
                body = {"held_on": held_on, "duration_minutes": 30, "mode": "office", "topics": ["work"]}
                answers = await asyncio.gather(*[
                    client.post(f"/api/cases/v1/cases/{case}/consultations", json=body) for _ in range(48)])
                listed = await client.get(f"/api/cases/v1/cases/{case}/consultations")
                return [a.status_code for a in answers] + [len(listed.json())]

        *statuses, recorded = asyncio.run(run())
    assert statuses == [201] * 48 and recorded == 48
