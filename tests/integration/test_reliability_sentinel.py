"""High availability: a primary, a replica and three Sentinels; the primary dies under load, nothing is lost."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis as redis_sync

from shared.runtime.embedded import free_port
from shared.runtime.target import Target, on_bus
from tests.integration.reliability import EFFECTS, effects_per_case, install_counting_service, open_cases
from tests.nodes import eventually, running_node

MASTER = "lotse"


@contextmanager
def process(args: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def answers(port: int) -> bool:
    try:
        return bool(redis_sync.Redis(port=port, socket_connect_timeout=0.5).ping())
    except redis_sync.ConnectionError:
        return False


def sentinel_config(path: Path, port: int, primary: int) -> Path:
    path.write_text("\n".join([  # as deploy/redis/sentinel.conf, with test timings
        f"port {port}", "bind 127.0.0.1", f"dir {path.parent}",
        f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2",
        f"sentinel down-after-milliseconds {MASTER} 1000",
        f"sentinel failover-timeout {MASTER} 5000",
        f"sentinel parallel-syncs {MASTER} 1", ""]))
    return path


def test_the_node_follows_a_failover_and_loses_no_acknowledged_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    install_counting_service(monkeypatch)
    primary, replica, sentinels = free_port(), free_port(), [free_port() for _ in range(3)]
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
    with ExitStack() as stack:
        first = stack.enter_context(process([binary, "--port", str(primary), *common], tmp_path / "primary"))
        eventually(lambda: answers(primary))
        stack.enter_context(process([binary, "--port", str(replica), "--replicaof", "127.0.0.1", str(primary),
                                     *common], tmp_path / "replica"))
        for i, port in enumerate(sentinels):
            home = tmp_path / f"sentinel-{i}"
            home.mkdir()
            config = sentinel_config(home / "sentinel.conf", port, primary)
            stack.enter_context(process([binary, str(config), "--sentinel"], home))
        for port in sentinels:  # each Sentinel knows the replica and the two other Sentinels
            eventually(lambda p=port: _sentinel_ready(p), timeout=30)
        addresses = [f"127.0.0.1:{p}" for p in sentinels]
        with running_node(tmp_path, None, services=["cases", EFFECTS], redis_sentinels=addresses,
                          redis_master=MASTER) as node:
            before = open_cases(node, 20)
            first.kill()  # the primary dies under load: writes go on while the Sentinels fail over
            during = []
            deadline = time.monotonic() + 30
            while _primary_port(sentinels[0]) == primary and time.monotonic() < deadline:
                during += open_cases(node, 2)
            assert _primary_port(sentinels[0]) == replica
            after = open_cases(node, 10)
            eventually(lambda: len(effects_per_case(node)) == len(before) + len(during) + len(after), timeout=60)
            assert set(effects_per_case(node)) == {*before, *during, *after}
            assert set(effects_per_case(node).values()) == {1}
            eventually(lambda: node.client.get("/readyz").status_code == 200, timeout=30)
            # the operator's commands (dlq, events tail, federation) find the new primary the same way
            server = on_bus(Target(node.settings), lambda redis: redis.info("server"))
            assert int(server["tcp_port"]) == replica


def _sentinel_ready(port: int) -> bool:
    s = redis_sync.Redis(port=port, decode_responses=True)
    try:
        info = s.sentinel_master(MASTER)
        return int(info["num-slaves"]) >= 1 and int(info["num-other-sentinels"]) >= 2
    except redis_sync.RedisError:
        return False
    finally:
        s.close()


def _primary_port(sentinel: int) -> int:
    s = redis_sync.Redis(port=sentinel, decode_responses=True)
    try:
        return int(s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)[1])
    finally:
        s.close()
