"""Settings and token errors: one clear line naming the setting, non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.auth import Authenticator, TokenError, issue_dev_token
from shared.settings import Settings, SettingsError, load_settings

LOTSE = [sys.executable, "-c", "from shared.runtime.cli import main; main()"]


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    return subprocess.run(LOTSE + args, capture_output=True, text=True, env={**clean, **(env or {})},
                          cwd=cwd, timeout=60)


@pytest.mark.parametrize(("env", "named"), [
    ({"LOTSE_TENANTS": "0811100"}, "LOTSE_TENANTS"),
    ({"LOTSE_LEVEL": "county"}, "LOTSE_LEVEL"),
    ({"LOTSE_HTTP_PORT": "99999"}, "LOTSE_HTTP_PORT"),
    ({"LOTSE_REDIS_URL": "http://localhost"}, "LOTSE_REDIS_URL"),
    ({"LOTSE_SERVICES": "cases,billing"}, "LOTSE_SERVICES"),
    ({"LOTSE_NODE_ID": "Bad Node!"}, "LOTSE_NODE_ID"),
])
def test_wrong_setting_fails_with_one_line_naming_it(env: dict[str, str], named: str,
                                                     tmp_path: Path) -> None:
    result = run(["node", "check"], env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr


def test_config_file_is_read_and_validated(tmp_path: Path) -> None:
    good = tmp_path / "lotse.toml"
    good.write_text('node_id = "stuttgart"\ntenants = ["08111000"]\nlevel = "municipal"\n')
    settings = load_settings(good)
    assert settings.node_id == "stuttgart" and settings.data_dir == Path("var/stuttgart")
    bad = tmp_path / "bad.toml"
    bad.write_text('tenants = ["8111000"]\n')
    result = run(["node", "check", "--config", str(bad)], cwd=tmp_path)
    assert result.returncode == 2 and "LOTSE_TENANTS" in result.stderr
    result = run(["node", "check", "--config", str(tmp_path / "missing.toml")], cwd=tmp_path)
    assert result.returncode == 2 and "not found" in result.stderr
    os.environ.pop("LOTSE_CONFIG", None)


def test_settings_defaults_and_validation() -> None:
    s = Settings(tenants="08111000, 08221000")
    assert s.tenants == ["08111000", "08221000"]
    assert s.database_url_for("cases").endswith("var/dev-node/cases.db")
    with pytest.raises(SettingsError, match="LOTSE_TENANTS"):
        load_settings(tenants=["abc"])


def test_token_errors_exit_non_zero_with_reason(tmp_path: Path) -> None:
    cfg = tmp_path / "lotse.toml"
    cfg.write_text(f'node_id = "ulm"\ntenants = ["08421000"]\ndata_dir = "{tmp_path / "data"}"\n')
    ok = run(["token", "--node", str(cfg), "--sub", "a", "--role", "manager"])
    assert ok.returncode == 0 and ok.stdout.count(".") == 2
    bad_role = run(["token", "--node", str(cfg), "--sub", "a", "--role", "wizard"])
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr and "wizard" in bad_role.stderr
    foreign = run(["token", "--node", str(cfg), "--sub", "a", "--role", "lead",
                   "--tenant", "08111000"])
    assert foreign.returncode == 2 and "08111000" in foreign.stderr
    oidc = cfg.read_text() + 'oidc_issuer = "https://login.example"\n'
    cfg.write_text(oidc)
    disabled = run(["token", "--node", str(cfg), "--sub", "a", "--role", "lead"])
    assert disabled.returncode == 2 and "disabled" in disabled.stderr


def test_dev_tokens_verify_only_on_their_node(tmp_path: Path) -> None:
    token = issue_dev_token(tmp_path / "a", node_id="a", node_tenants=["08111000"], sub="u",
                            roles=["lead"], tenants=["08111000"])
    mine = Authenticator(node_id="a", data_dir=tmp_path / "a")
    principal = mine.verify(token)
    assert principal.sub == "u" and principal.roles == {"lead"} and principal.tenants == {"08111000"}
    with pytest.raises(TokenError):
        Authenticator(node_id="b", data_dir=tmp_path / "b").verify(token)
    with pytest.raises(TokenError):
        mine.verify(token[:-4] + "AAAA")
    expired = issue_dev_token(tmp_path / "a", node_id="a", node_tenants=["08111000"], sub="u",
                              roles=["lead"], tenants=[], ttl_s=-10)
    with pytest.raises(TokenError, match="expired"):
        mine.verify(expired)
