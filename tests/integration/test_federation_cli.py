"""`lotse federation`: keys, and the state's registry (add-node, list, remove, rotate-key) as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path

from redis import Redis as SyncRedis

from shared.runtime.embedded import EmbeddedServer, free_port
from tests.integration.processes import clean_env, lotse, one_line


def state_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return clean_env(LOTSE_NODE_ID="state", LOTSE_LEVEL="state", LOTSE_TENANTS="08000000",
                     LOTSE_DATA_DIR=str(tmp_path / "state"), **more)


def key_of(node: Path, *flags: str) -> str:
    node.mkdir(exist_ok=True)
    result = lotse("federation", "key", "--node", str(node), *flags)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_registry_add_list_rotate_remove(tmp_path: Path) -> None:
    env = state_env(tmp_path)
    a, b = key_of(tmp_path / "a"), key_of(tmp_path / "b")
    assert key_of(tmp_path / "a") == a  # created once, then the same key
    listed = lotse("federation", "list", env=env)
    assert listed.stdout.strip() == "no nodes registered" and not (tmp_path / "state").exists()

    added = lotse("federation", "add-node", "--node-id", "node-a", "--tenant", "08111000", "--public-key", a,
                  env=env)
    assert added.returncode == 0 and "user node-node-a on >" in added.stdout, added.stderr
    again = lotse("federation", "add-node", "--node-id", "node-a", "--tenant", "08111000", "--tenant",
                  "08421000", "--public-key", a, env=env)
    assert again.returncode == 0, again.stderr  # the same node and key again: its tenants updated

    taken = lotse("federation", "add-node", "--node-id", "node-b", "--tenant", "08421000", "--public-key", b,
                  env=env)
    assert taken.returncode == 1 and "08421000 is already served by node node-a" in one_line(taken)
    bad_id = lotse("federation", "add-node", "--node-id", "Node_B", "--tenant", "08221000", "--public-key", b,
                   env=env)
    assert bad_id.returncode == 2 and one_line(bad_id).startswith("lotse: --node-id: 'Node_B' is not a node id")
    bad_key = lotse("federation", "add-node", "--node-id", "node-b", "--tenant", "08221000", "--public-key",
                    "c2hvcnQ=", env=env)
    assert bad_key.returncode == 2 and "--public-key" in one_line(bad_key)
    other_key = lotse("federation", "add-node", "--node-id", "node-a", "--tenant", "08111000", "--public-key", b,
                      env=env)
    assert other_key.returncode == 1 and "rotate-key" in one_line(other_key)

    upcoming = key_of(tmp_path / "a", "--next")
    assert upcoming != a and key_of(tmp_path / "a", "--next") == upcoming
    rotated = lotse("federation", "rotate-key", "node-a", "--public-key", upcoming, "--overlap-hours", "2",
                    env=env)
    assert rotated.returncode == 0 and "old key verifies until" in rotated.stdout, rotated.stderr
    nodes = json.loads(lotse("federation", "list", "--json", env=env).stdout)
    assert [(n["node_id"], n["tenants"]) for n in nodes] == [("node-a", ["08111000", "08421000"])]
    assert nodes[0]["previous_key_until"] is not None
    assert "old key valid until" in lotse("federation", "list", env=env).stdout
    assert key_of(tmp_path / "a", "--activate") == upcoming and key_of(tmp_path / "a") == upcoming
    again = lotse("federation", "key", "--node", str(tmp_path / "a"), "--activate")
    assert again.returncode == 1 and "no next key" in one_line(again)

    removed = lotse("federation", "remove", "node-a", env=env)
    assert removed.returncode == 0 and "node-node-a" in removed.stdout
    gone = lotse("federation", "remove", "node-a", env=env)
    assert gone.returncode == 1 and one_line(gone) == "lotse: node node-a is not registered"
    assert lotse("federation", "list", env=env).stdout.strip() == "no nodes registered"


def test_apply_creates_and_deletes_the_acl_user(tmp_path: Path, valkey: EmbeddedServer,
                                                redis: SyncRedis) -> None:
    env = state_env(tmp_path, LOTSE_REDIS_URL=valkey.url)
    a = key_of(tmp_path / "a")
    added = lotse("federation", "add-node", "--node-id", "node-a", "--tenant", "08111000", "--public-key", a,
                  "--apply", env=env)
    assert added.returncode == 0, added.stderr
    link = next(line for line in added.stdout.splitlines() if line.startswith("LOTSE_STATE_REDIS_URL="))
    as_node = SyncRedis.from_url(link.split("=", 1)[1])
    assert as_node.ping()
    as_node.close()
    removed = lotse("federation", "remove", "node-a", "--apply", env=env)
    assert removed.returncode == 0, removed.stderr
    assert redis.execute_command("ACL", "GETUSER", "node-node-a") is None


def test_apply_against_a_stopped_state_registers_nothing(tmp_path: Path) -> None:
    env = state_env(tmp_path, LOTSE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = lotse("federation", "add-node", "--node-id", "node-a", "--tenant", "08111000", "--public-key",
                   key_of(tmp_path / "a"), "--apply", env=env)
    assert result.returncode == 1 and one_line(result).startswith("lotse: LOTSE_REDIS_URL: cannot use")
    assert lotse("federation", "list", env=env).stdout.strip() == "no nodes registered"


def test_registry_commands_need_a_state_node(tmp_path: Path) -> None:
    result = lotse("federation", "list", env=clean_env(LOTSE_DATA_DIR=str(tmp_path / "m")))
    assert result.returncode == 2 and "not a state node" in one_line(result)
