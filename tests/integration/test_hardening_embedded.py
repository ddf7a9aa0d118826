"""A neighbour process and a careless operator: private files, a password-protected bus, one server per data dir."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
from pathlib import Path

import pytest
import redis

from shared.runtime.embedded import EmbeddedServer
from shared.runtime.failures import OperatorError
from tests.integration.node_process import node_process
from tests.integration.processes import LOTSE, ROOT, clean_env, lotse, processes_of
from tests.nodes import eventually


def modes(root: Path) -> dict[str, str]:
    """Every path under root (root included) with its permission bits."""
    return {str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.stat().st_mode)) for p in [root, *root.rglob("*")]}


def test_the_data_dir_is_private_from_the_first_byte(tmp_path: Path) -> None:
    data = tmp_path / "node"
    data.mkdir(mode=0o755)
    (data / "notes.txt").write_text("from an older version")
    (data / "notes.txt").chmod(0o644)
    with node_process(data, LOTSE_SERVICES="cases") as (_, base):
        token = lotse("token", "--node", str(data), "--sub", "amina", "--role", "manager").stdout.strip()
        import httpx

        answer = httpx.post(f"{base}/api/cases/v1/cases", headers={"Authorization": f"Bearer {token}"},
                            json={"given_name": "Amina", "family_name": "K", "birth_date": "1990-01-01"})
        assert answer.status_code in (201, 422), answer.text  # either way the databases and their WAL exist
        found = modes(data)
    assert any(name.endswith("cases.db-wal") for name in found) and any("keys" in name for name in found)
    wide = {name: mode for name, mode in found.items()
            if mode != ("0o700" if (tmp_path / name).is_dir() else "0o600")}
    assert wide == {}


def test_a_client_without_the_password_can_neither_read_nor_write(tmp_path: Path) -> None:
    srv = EmbeddedServer(tmp_path / "redis").start()
    try:
        stranger = redis.Redis(port=srv.port)
        with pytest.raises(redis.AuthenticationError):
            stranger.xadd("cases", {"type": "CaseOpened"})
        with pytest.raises(redis.AuthenticationError):
            stranger.xrange("cases")
        stranger.close()
        assert oct(stat.S_IMODE((tmp_path / "redis" / "password").stat().st_mode)) == "0o600"
        node = redis.Redis.from_url(srv.url)
        assert node.xadd("cases", {"type": "CaseOpened"})
        for command in (["CONFIG", "SET", "dir", "/tmp"], ["DEBUG", "SLEEP", "0"], ["MODULE", "LIST"]):
            with pytest.raises(redis.ResponseError):  # refused by the ACL (or, DEBUG, by the server's default)
                node.execute_command(*command)
        with pytest.raises(redis.exceptions.NoPermissionError):
            node.config_set("dbfilename", "authorized_keys")
        node.close()
    finally:
        srv.stop()


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = EmbeddedServer(tmp_path / "redis").start()
    try:
        with pytest.raises(OperatorError, match="another node is running"):
            EmbeddedServer(tmp_path / "redis").start()
    finally:
        first.stop()
    again = EmbeddedServer(tmp_path / "redis").start()  # the lock went with the first server
    again.stop()


def servers_in(data: Path) -> list[int]:
    return [pid for pid in processes_of(data / "redis")
            if "server" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def test_killing_a_node_three_times_leaves_one_server(tmp_path: Path) -> None:
    data = tmp_path / "node"
    for _ in range(3):
        with node_process(data, LOTSE_SERVICES="cases") as (proc, _base):
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    with node_process(data, LOTSE_SERVICES="cases") as (proc, _base):
        assert len(servers_in(data)) == 1
        recorded = json.loads((data / "node.json").read_text())["redis_url"]
        assert redis.Redis.from_url(recorded).ping()  # the CLI's way in: the password from the data dir
        second = subprocess.run([*LOTSE, "node", "up"], env=clean_env(LOTSE_DATA_DIR=str(data), LOTSE_HTTP_PORT="0",
                                LOTSE_SERVICES="cases"), cwd=ROOT, capture_output=True, text=True, timeout=90)
        assert second.returncode != 0 and "another node is running" in second.stderr
        assert len(servers_in(data)) == 1
    eventually(lambda: servers_in(data) == [], timeout=15)
