"""Every failure an operator can cause or meet: one line on stderr, a non-zero exit, no process left."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from redis import Redis as SyncRedis

from shared.runtime.embedded import EmbeddedServer, free_port
from tests.conftest import POSTGRES_URL
from tests.integration.processes import LOTSE, ROOT, children, clean_env, lotse, one_line, processes_of


def failing(tmp_path: Path, *args: str, code: int = 1, **settings: str) -> str:
    """Run a command that must fail; its one line, after checking that it left nothing running."""
    before = children(), processes_of(tmp_path)  # the test's own servers (fixtures) may run there
    env = clean_env(LOTSE_DATA_DIR=str(tmp_path / "node"), LOTSE_HTTP_PORT="0", **settings)
    result = lotse(*args, env=env, cwd=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    line = one_line(result)
    assert (children(), processes_of(tmp_path)) == before
    return line


@contextmanager
def occupied_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_unreachable_redis_is_one_line_for_every_command(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["node", "up"], ["relay"], ["node", "check"], ["events", "tail"], ["dlq", "list"]):
        extra: dict[str, str] = {"LOTSE_STATE_REDIS_URL": url} if args == ["relay"] else {}
        line = failing(tmp_path, *args, LOTSE_REDIS_URL=url, **extra)  # type: ignore[arg-type]
        assert "LOTSE_REDIS_URL" in line and url.split("//")[1].split("/")[0] in line, args
        assert "Connection refused" in line
    assert not (tmp_path / "node").exists()  # nothing was started, nothing created


def test_wrong_redis_password_is_named_and_masked(tmp_path: Path, valkey: EmbeddedServer) -> None:
    url = f"redis://intruder:guess-me@127.0.0.1:{valkey.port}/0"
    for args in (["node", "up"], ["dlq", "list"], ["events", "tail"]):
        line = failing(tmp_path, *args, LOTSE_REDIS_URL=url)
        assert "LOTSE_REDIS_URL" in line and "wrong user name or password" in line, line
        assert "guess-me" not in line and "intruder:***@" in line
    # a municipal node's link to the state with a wrong password is configuration, not an outage
    line = failing(tmp_path, "node", "up", LOTSE_STATE_REDIS_URL=url)
    assert line.startswith("lotse: LOTSE_STATE_REDIS_URL: ") and "guess-me" not in line


def test_unreachable_postgresql_is_named_and_masked(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://lotse:s3cret@127.0.0.1:{free_port()}/lotse_{{service}}"
    line = failing(tmp_path, "node", "up", LOTSE_DATABASE_URL=url)
    assert "LOTSE_DATABASE_URL" in line and "s3cret" not in line and "lotse:***@" in line
    assert "Connection refused" in line
    line = failing(tmp_path, "node", "check", LOTSE_DATABASE_URL=url, LOTSE_SERVICES="cases")
    assert "LOTSE_DATABASE_URL" in line and "s3cret" not in line
    line = failing(tmp_path, "node", "up", code=1, LOTSE_DATABASE_URL="postgresql://x@127.0.0.1/x")
    assert "LOTSE_DATABASE_URL" in line


def test_refused_postgresql_credentials_are_named(tmp_path: Path, postgres_url: str) -> None:
    host = POSTGRES_URL.split("@", 1)[1]
    url = f"postgresql+psycopg://no_such_role:s3cret@{host}"
    line = failing(tmp_path, "node", "up", LOTSE_DATABASE_URL=url)
    assert "LOTSE_DATABASE_URL" in line and "no_such_role" in line and "s3cret" not in line


def test_a_failed_start_stops_its_embedded_server(tmp_path: Path) -> None:
    # The embedded server is up before the databases are checked against the code: it must go too.
    line = failing(tmp_path, "node", "up", LOTSE_DB_AUTO_UPGRADE="false", LOTSE_SERVICES="cases")
    assert "lotse db upgrade" in line and "LOTSE_DB_AUTO_UPGRADE" in line
    assert json.loads((tmp_path / "node" / "node.json").read_text())["embedded"] is True


def test_a_taken_port_fails_before_anything_starts(tmp_path: Path) -> None:
    with occupied_port() as port:
        line = failing(tmp_path, "node", "up", "--port", str(port))
    assert line.startswith("lotse: LOTSE_HTTP_PORT: ") and str(port) in line
    assert not (tmp_path / "node").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = lotse("--debug", "node", "up", env=clean_env(LOTSE_REDIS_URL=url), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("lotse: LOTSE_REDIS_URL: ")


def test_a_stopped_node_is_named_for_events_and_dead_letters(tmp_path: Path) -> None:
    node = tmp_path / "stuttgart"
    node.mkdir()
    (node / "node.json").write_text(json.dumps({
        "node_id": "stuttgart", "level": "municipal", "tenants": ["08111000"], "embedded": True,
        "redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    for args in (["events", "tail"], ["dlq", "list"], ["dlq", "replay", "1-0"]):
        line = failing(tmp_path, *args, "--node", str(node))
        assert "node stuttgart is not running" in line and "lotse node up" in line, line
    line = failing(tmp_path, "dlq", "list", "--node", str(tmp_path / "nowhere"), code=2)
    assert "--node" in line and "nowhere" in line


def test_unknown_dead_letter_ids(tmp_path: Path, valkey: EmbeddedServer) -> None:
    line = failing(tmp_path, "dlq", "replay", "1716900000000-0", LOTSE_REDIS_URL=valkey.url)
    assert "no dead letter 1716900000000-0" in line
    line = failing(tmp_path, "dlq", "replay", "not-an-id", code=2, LOTSE_REDIS_URL=valkey.url)
    assert line.startswith("lotse: ID: ") and "not-an-id" in line


def test_events_tail_count_prints_exactly_that_many(tmp_path: Path, valkey: EmbeddedServer,
                                                    redis: SyncRedis) -> None:
    for i in range(5):
        redis.xadd("lotse:events:cases", {"event": json.dumps({"n": i})})
    redis.xadd("lotse:events:plans", {"event": "not json"})
    env = clean_env(LOTSE_REDIS_URL=valkey.url)
    result = lotse("events", "tail", "--from-start", "--count", "3", "--stream", "lotse:events:cases",
                   env=env, cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and [json.loads(line)["event"]["n"] for line in lines] == [0, 1, 2]
    result = lotse("events", "tail", "--from-start", "--count", "6", "--stream", "lotse:events:cases",
                   "--stream", "lotse:events:plans", env=env, cwd=tmp_path)
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(entries) == 6 and [e["event"] for e in entries if e["stream"] == "lotse:events:plans"] == ["not json"]
    result = lotse("events", "tail", "--from-start", "--count", "2", "--stream", "lotse:events:cases",
                   "--stream", "lotse:events:plans", env=env, cwd=tmp_path)
    assert len(result.stdout.splitlines()) == 2  # two streams answer one read: still only two entries
    line = failing(tmp_path, "events", "tail", "--count", "0", code=2, LOTSE_REDIS_URL=valkey.url)
    assert "--count" in line


@pytest.mark.parametrize("ports", ["8100,8101", "a,b,c", "8100,8100,8101", "0,8101,8102", "8100,8101,99999"])
def test_bad_demo_ports(ports: str, tmp_path: Path) -> None:
    line = failing(tmp_path, "demo", "--base", str(tmp_path / "demo"), "--ports", ports, code=2)
    assert line.startswith("lotse: --ports: ") and not (tmp_path / "demo").exists()


def test_demo_ports_in_use(tmp_path: Path) -> None:
    with occupied_port() as port:
        line = failing(tmp_path, "demo", "--base", str(tmp_path / "demo"), "--ports",
                       f"{free_port()},{port},{free_port()}", code=2)
    assert str(port) in line and "in use" in line and not (tmp_path / "demo").exists()


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_node_check_by_data_dir_creates_nothing(tmp_path: Path) -> None:
    fresh, ran = tmp_path / "fresh", tmp_path / "ran"
    fresh.mkdir()
    ran.mkdir()
    with closing(sqlite3.connect(ran / "cases.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
    (ran / "node.json").write_text(json.dumps({
        "node_id": "ulm", "level": "municipal", "tenants": ["08421000"], "embedded": True,
        "redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    before = tree(tmp_path)
    for node in (fresh, ran):
        result = lotse("node", "check", "--node", str(node), env=clean_env(), cwd=tmp_path)
        assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    assert "node ulm (municipal), tenants 08421000" in result.stdout
    assert "embedded (not running now" in result.stdout and "cases: sqlite:///" in result.stdout
    assert tree(tmp_path) == before
    assert processes_of(tmp_path) == []


def test_node_check_reports_each_failure_on_one_line(tmp_path: Path) -> None:
    issuer = f"https://127.0.0.1:{free_port()}/realms/lotse"
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = lotse("node", "check", env=clean_env(LOTSE_OIDC_ISSUER=issuer, LOTSE_REDIS_URL=url,
                                                   LOTSE_SERVICES="cases"), cwd=tmp_path)
    assert result.returncode == 1
    failures = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in failures] == ["LOTSE_REDIS_URL", "LOTSE_OIDC_ISSUER"]
    assert ".well-known/openid-configuration" in failures[1]
    assert "db       ok: cases" in result.stdout and not (tmp_path / "var").exists()


def test_sigkill_of_a_node_takes_its_embedded_server_along(tmp_path: Path) -> None:
    env = clean_env(LOTSE_DATA_DIR=str(tmp_path / "node"), LOTSE_HTTP_PORT="0", LOTSE_SERVICES="cases")
    proc = subprocess.Popen([*LOTSE, "node", "up"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "(embedded)" in line:
                break
        server = [p for p in processes_of(tmp_path / "node" / "redis") if p != proc.pid]
        assert len(server) == 1, "the embedded server runs in the node's data dir"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while processes_of(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_of(tmp_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_sigterm_stops_a_node_and_its_server(tmp_path: Path) -> None:
    env = clean_env(LOTSE_DATA_DIR=str(tmp_path / "node"), LOTSE_HTTP_PORT="0", LOTSE_SERVICES="cases")
    proc = subprocess.Popen([*LOTSE, "node", "up"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "(embedded)" in line:
            break
    proc.send_signal(signal.SIGTERM)
    # uvicorn stops gracefully, then re-raises the signal so the exit status still says SIGTERM
    assert proc.wait(60) in (0, -signal.SIGTERM)
    assert "stop: stopped" in proc.stderr.read() if proc.stderr else False
    assert processes_of(tmp_path) == [] and os.path.exists(tmp_path / "node" / "node.json")
