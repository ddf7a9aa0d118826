"""Settings and token errors: one clear line naming the setting, non-zero exit."""

from __future__ import annotations

import io
import os
import sys
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from shared.auth import Authenticator, TokenError, issue_dev_token
from shared.runtime.cli import main
from shared.settings import Settings, SettingsError, load_settings, setting_names, unknown_variables


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """`lotse ARGS` through the CLI's own boundary, in this process (the unit layer starts no process)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {**clean, **(env or {})}, clear=True), \
            mock.patch.object(sys, "argv", ["lotse", *args]), chdir(cwd or Path.cwd()), \
            redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main()
    return Result(int(exit_.value.code or 0), out.getvalue(), err.getvalue())


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


def test_a_misspelled_variable_stops_with_the_valid_names(tmp_path: Path) -> None:
    result = run(["node", "check"], {"LOTSE_REDISURL": "redis://127.0.0.1:6379/0"}, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("lotse: LOTSE_REDISURL: unknown setting (did you mean LOTSE_REDIS_URL?)")
    assert all(name in line for name in setting_names()) and "LOTSE_CONFIG" in line
    assert not (tmp_path / "var").exists()


def test_which_lotse_variables_are_not_settings() -> None:
    env = {"LOTSE_REDIS_URL": "x", "lotse_node_id": "x", "LOTSE_CONFIG": "x", "LOTSE_MAILBOXES__08111000": "x",
           "LOTSE_TEST_POSTGRES_URL": "x", "LOTSE_REDISURL": "x", "LOTSE_TENANT": "x", "PATH": "x"}
    assert unknown_variables(env) == ["LOTSE_REDISURL", "LOTSE_TENANT"]


def test_an_unknown_key_in_the_config_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "lotse.toml"
    cfg.write_text('node_id = "ulm"\nredisurl = "redis://x"\n')
    result = run(["node", "check", "--config", str(cfg)], cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "redisurl in " in line and "did you mean redis_url?" in line
    os.environ.pop("LOTSE_CONFIG", None)


def test_the_oidc_issuer_must_be_an_https_url() -> None:
    for bad in ("http://login.example/realms/lotse", "login.example", "https://"):
        with pytest.raises(SettingsError, match="LOTSE_OIDC_ISSUER: must be an https:// URL"):
            load_settings(oidc_issuer=bad)
    assert load_settings(oidc_issuer="https://login.example/realms/lotse").oidc_issuer


def test_plain_http_is_trusted_only_for_an_issuer_on_this_machine() -> None:
    """A development or test provider on loopback needs no TLS; anything reachable from elsewhere does."""
    for local in ("http://127.0.0.1:5000", "http://localhost:8080/realms/lotse", "http://[::1]:9000"):
        assert load_settings(oidc_issuer=local).oidc_issuer == local
    for bad in ("http://127.0.0.1.example.org", "http://localhost@evil.example", "http://10.0.0.1:8080",
                "http://[::1", "ftp://localhost"):
        with pytest.raises(SettingsError, match="LOTSE_OIDC_ISSUER: must be an https:// URL"):
            load_settings(oidc_issuer=bad)
    with pytest.raises(SettingsError, match="LOTSE_OIDC_SCOPES: must include openid"):
        load_settings(oidc_scopes="profile email")
    settings = load_settings()
    assert (settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_scopes) == (
        "lotse", None, "openid profile email")
    assert "s3cret" not in repr(load_settings(oidc_client_secret="s3cret"))


def test_a_bad_url_value_is_shown_without_its_password() -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(redis_url="http://app:s3cret@redis:6379/0")
    assert "s3cret" not in str(exc.value) and "app:***@" in str(exc.value)
