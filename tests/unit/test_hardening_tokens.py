"""Tokens an attacker may hold: validly signed, but malformed or for a tenant the node does not host -> 401."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import Authenticator, TokenError, issue_dev_token, retire_previous_dev_key, rotate_dev_key
from tests.unit.test_hardening_guard import app_with_guard, call

ISSUER = "https://login.example/realms/lotse"
KEY = Ed25519PrivateKey.generate()
STUTTGART, HEIDELBERG = "08111000", "08221000"


def oidc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Authenticator:
    """An OIDC authenticator whose issuer's only key is KEY (no network)."""
    monkeypatch.setattr(Authenticator, "_signing_key", lambda self, token: KEY.public_key())
    return Authenticator(node_id="n1", data_dir=tmp_path, oidc_issuer=ISSUER, tenants=[STUTTGART])


def signed(**claims: Any) -> str:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "lotse", "iat": now, "exp": now + 300, "sub": "amina",
            "roles": ["manager"], "tenants": [STUTTGART]}
    return jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not ...}, KEY, algorithm="EdDSA")


@pytest.mark.parametrize("claims", [
    {"sub": ...}, {"sub": ""}, {"sub": 42}, {"sub": {"id": 1}},
    {"roles": ..., "realm_access": "lead"}, {"roles": ..., "realm_access": ["lead"]},
    {"roles": ..., "realm_access": {"roles": "lead"}}, {"roles": ..., "realm_access": {"roles": [{"x": 1}]}},
    {"roles": "manager"}, {"tenants": STUTTGART}, {"tenants": [8111000]},
    {"tenants": [HEIDELBERG]},  # validly signed, for a tenant this node does not host
])
def test_a_malformed_or_foreign_oidc_token_is_refused(claims: dict[str, Any], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TokenError):
        oidc(tmp_path, monkeypatch).verify(signed(**claims))


def test_keycloak_roles_still_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    principal = oidc(tmp_path, monkeypatch).verify(signed(roles=..., realm_access={"roles": ["lead", "x"]}))
    assert principal.roles == {"lead"} and principal.tenants == {STUTTGART}


def test_the_node_answers_401_for_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, read = app_with_guard(tmp_path)
    app.state.authenticator = oidc(tmp_path, monkeypatch)
    for token in (signed(sub=...), signed(roles=..., realm_access="x"), signed(tenants=[HEIDELBERG])):
        headers = {"content-length": "2", "authorization": f"Bearer {token}"}
        status, _, _ = call(app, "/api/x/v1/small", [b"{}"], headers)
        assert status == 401
    assert read == []


def test_a_dev_token_for_a_tenant_the_node_does_not_host_is_refused(tmp_path: Path) -> None:
    token = issue_dev_token(tmp_path, node_id="n1", node_tenants=[STUTTGART, HEIDELBERG], sub="amina",
                            roles=["manager"], tenants=[HEIDELBERG])
    with pytest.raises(TokenError, match="no tenant"):
        Authenticator(node_id="n1", data_dir=tmp_path, tenants=[STUTTGART]).verify(token)
    assert Authenticator(node_id="n1", data_dir=tmp_path, tenants=[HEIDELBERG]).verify(token).sub == "amina"


def test_the_dev_token_key_rotates_with_an_overlap(tmp_path: Path) -> None:
    def issue() -> str:
        return issue_dev_token(tmp_path, node_id="n1", node_tenants=[STUTTGART], sub="amina", roles=["lead"],
                               tenants=[STUTTGART])

    running = Authenticator(node_id="n1", data_dir=tmp_path, tenants=[STUTTGART])  # a node that keeps running
    old = issue()
    rotate_dev_key(tmp_path)
    new = issue()
    assert running.verify(old).sub == running.verify(new).sub == "amina"  # both valid during the overlap
    assert retire_previous_dev_key(tmp_path)
    with pytest.raises(TokenError):
        running.verify(old)
    assert running.verify(new).sub == "amina"
    assert oct((tmp_path / "keys" / "dev-token.pem").stat().st_mode & 0o777) == "0o600"
