"""OIDC sign-in of the web app: against a real test provider (oidc-provider-mock); token checks against a fake."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread

from shared.runtime.embedded import free_port
from tests.integration.test_web_pages import csrf_of
from tests.nodes import HEIDELBERG, STUTTGART, NodeHandle
from web import session as web_session
from web.config import WebConfig
from web.oidc import PENDING_COOKIE, Pending, PendingCookie, Problem, Provider, SignInFailed
from web.session import session_key

CLIENT = "lotse-web"
USERS = [
    User(sub="amina.manager", claims={"roles": ["manager"], "tenants": [STUTTGART], "name": "Amina"}),
    # Keycloak puts realm roles under realm_access; roles Lotse does not know are ignored
    User(sub="lena.lead", claims={"realm_access": {"roles": ["lead", "offline_access"]}, "tenants": [HEIDELBERG]}),
    User(sub="olaf.outsider", claims={"roles": ["admin"], "tenants": [STUTTGART]}),
]


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """A real OpenID provider on 127.0.0.1 that insists on a nonce; its users carry Lotse's claims."""
    with run_server_in_thread(require_nonce=True, user_claims=USERS) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def node(start_node: Callable[..., NodeHandle], issuer: str) -> NodeHandle:
    # The provider's access tokens are opaque, so the web app sends the ID token: its aud is the client id.
    return start_node("cases", "plans", "notifications", oidc_issuer=issuer, oidc_client_id=CLIENT,
                      oidc_client_secret="test-secret", oidc_audience=CLIENT)


def to_provider(client: TestClient, issuer: str) -> str:
    """GET /login as a browser: the provider's authorization URL it is sent to."""
    answer = client.get("/login", follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = str(answer.headers["location"])
    assert location.startswith(issuer + "/oauth2/authorize?")
    return location


def at_provider(authorize: str, **form: str) -> str:
    """The user's answer at the provider's page; where the provider sends the browser back."""
    answer = httpx.post(authorize, data=form)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def back_from(client: TestClient, location: str) -> httpx.Response:
    parts = urlsplit(location)
    assert parts.path == "/auth/callback"
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def sign_in(client: TestClient, issuer: str, sub: str) -> httpx.Response:
    return back_from(client, at_provider(to_provider(client, issuer), sub=sub))


def test_a_manager_signs_in_at_the_provider_with_pkce_and_lands_on_the_caseload(node: NodeHandle, issuer: str) -> None:
    client = node.client
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    answer = client.get("/login", follow_redirects=False)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["client_id"] == [CLIENT] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/auth/callback"]
    assert query["scope"] == ["openid profile email"] and query["ui_locales"] == ["de"]
    # The pre-session cookie holds state, nonce and the PKCE verifier, encrypted, for the callback only
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{PENDING_COOKIE}=") and "Path=/auth/callback" in cookie and "HttpOnly" in cookie
    assert "Max-Age=600" in cookie and "SameSite=Lax" in cookie
    pending = PendingCookie(session_key(node.settings.data_dir / "keys" / "web-session.key")).load(
        client.cookies.get(PENDING_COOKIE))
    assert pending is not None and query["state"] == [pending.state] and query["nonce"] == [pending.nonce]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [create_s256_code_challenge(pending.verifier)]

    back = back_from(client, at_provider(answer.headers["location"], sub="amina.manager"))
    assert back.status_code == 303 and back.headers["location"] == "/"
    assert any(c.startswith(f"{PENDING_COOKIE}=;") and "Max-Age=0" in c for c in back.headers.get_list("set-cookie"))
    assert client.get("/", follow_redirects=False).headers["location"] == "/cases"
    caseload = client.get("/cases")  # the API accepted the token the web app holds for her
    assert caseload.status_code == 200 and "amina.manager" in caseload.text and "Meine Fälle" in caseload.text
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"  # signed in already


def test_roles_and_tenants_come_from_the_providers_claims(node: NodeHandle, issuer: str) -> None:
    client = node.client
    assert sign_in(client, issuer, "lena.lead").status_code == 303
    start = client.get("/")
    assert start.status_code == 200 and "lena.lead" in start.text and "Teamleitung" in start.text
    csrf = csrf_of(start.text)
    opened = client.post("/cases/new", follow_redirects=False, data={
        "given_name": "Amina", "family_name": "Haddad", "birth_date": "27.03.1990", "nationality": "SYR",
        "languages": "ar", "household_size": "1", "accommodation_since": "01.09.2025", "csrf_token": csrf})
    assert opened.status_code == 303, opened.text  # her tenant is Heidelberg, from the claim
    case = client.get(str(opened.headers["location"]))
    assert "Amina Haddad" in case.text
    other = TestClient(client.app)  # a manager of Stuttgart does not see Heidelberg's case
    assert sign_in(other, issuer, "amina.manager").status_code == 303
    assert other.get(str(opened.headers["location"])).status_code == 404


def test_sign_out_and_the_idle_timeout_show_a_page_before_the_provider(
        node: NodeHandle, issuer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = node.client
    sign_in(client, issuer, "amina.manager")
    csrf = csrf_of(client.get("/cases").text)
    assert client.post("/logout", follow_redirects=False).status_code == 403  # without the CSRF token
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    page = client.get("/login", follow_redirects=False)
    assert page.status_code == 200 and "Sie haben sich abgemeldet." in page.text
    assert f'href="{issuer}/oauth2/end_session?client_id={CLIENT}"' in page.text
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/login", follow_redirects=False).status_code == 303  # now: straight to the provider

    sign_in(client, issuer, "amina.manager")
    later = time.time() + node.settings.web_idle_timeout_s + 5
    monkeypatch.setattr(web_session, "clock", lambda: later)
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/login"
    assert "nach 30 Minuten ohne Aktivität abgemeldet" in client.get("/login", follow_redirects=False).text


def test_a_user_without_a_lotse_role_is_refused(node: NodeHandle, issuer: str) -> None:
    answer = sign_in(node.client, issuer, "olaf.outsider")
    assert answer.status_code == 403
    assert "Ihr Konto hat keinen Zugang zu Lotse" in answer.text
    assert f"{issuer}/oauth2/end_session?client_id={CLIENT}" in answer.text  # to sign in as someone else
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"


def test_a_refusal_at_the_provider_and_a_foreign_answer_are_clear_pages(node: NodeHandle, issuer: str) -> None:
    client = node.client
    denied = back_from(client, at_provider(to_provider(client, issuer), action="deny"))
    assert denied.status_code == 403 and "Sie wurden nicht angemeldet" in denied.text

    # An answer whose state is not this browser's sign-in (or with no sign-in under way) is refused unused
    location = at_provider(to_provider(client, issuer), sub="amina.manager")
    forged = location.replace("state=", "state=x")
    refused = back_from(client, forged)
    assert refused.status_code == 400 and "Die Anmeldung konnte nicht angenommen werden" in refused.text
    assert back_from(client, location).status_code == 400  # the pre-session is spent with the first answer
    assert back_from(TestClient(client.app), location).status_code == 400  # another browser: no pre-session
    assert client.get("/cases", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/auth/callback?code=x&state=y").status_code == 400


def test_a_token_too_large_for_the_cookie_is_refused_rather_than_dropped_by_the_browser(
        node: NodeHandle, issuer: str) -> None:
    claims = {"roles": ["manager"], "tenants": [STUTTGART], "groups": [f"group-{n:04d}" for n in range(300)]}
    assert httpx.put(f"{issuer}/users/gustav.groups", json=claims).status_code == 204
    answer = sign_in(node.client, issuer, "gustav.groups")
    assert answer.status_code == 502 and "Die Anmeldung konnte nicht abgeschlossen werden" in answer.text
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"


def test_the_cookie_size_estimate_is_exact(tmp_path: Path) -> None:
    codec = web_session.SessionCodec(session_key(tmp_path / "key"), 1800)
    for size in range(2600, 3000, 7):
        session = web_session.WebSession()
        session.sign_in(token="t" * size, sub="amina.manager", roles=["manager"], tenants=[STUTTGART])
        cookie = f"{web_session.COOKIE}={codec.dump(session)}"
        assert session.fits() == (len(cookie) <= web_session.MAX_COOKIE), size


def test_a_token_the_api_would_refuse_is_not_accepted(start_node: Callable[..., NodeHandle], issuer: str) -> None:
    # LOTSE_OIDC_AUDIENCE "lotse", but the provider's ID token is for the client and its access token is opaque
    node = start_node("cases", oidc_issuer=issuer, oidc_client_id=CLIENT, oidc_client_secret="test-secret")
    answer = sign_in(node.client, issuer, "amina.manager")
    assert answer.status_code == 502 and "Die Anmeldung konnte nicht abgeschlossen werden" in answer.text
    assert node.client.get("/cases", follow_redirects=False).headers["location"] == "/login"


def test_an_unreachable_provider_is_a_clear_page(start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases", oidc_issuer=f"http://127.0.0.1:{free_port()}", oidc_client_id=CLIENT)
    answer = node.client.get("/login", follow_redirects=False)
    assert answer.status_code == 503 and "Der Anmeldedienst ist nicht erreichbar" in answer.text
    assert node.client.get("/auth/callback?code=x&state=y").status_code == 400


def test_without_an_issuer_there_is_no_callback(start_node: Callable[..., NodeHandle]) -> None:
    assert start_node("cases").client.get("/auth/callback?code=x&state=y").status_code == 404


# -- the token checks, against a fake provider whose tokens each test shapes ----------------------------------
FAKE = "https://id.example.org/realms/lotse"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PENDING = Pending(state="s", nonce="n-123", verifier="v" * 64)


def signed(claims: dict[str, Any], key: Any = KEY, kid: str = "k1") -> str:
    now = int(time.time())
    return jwt.encode({"iss": FAKE, "iat": now, "exp": now + 300, **claims}, key, algorithm="RS256",
                      headers={"kid": kid})


def fake_provider(tmp_path: Path, tokens: dict[str, Any], *, audience: str = "lotse",
                  key_ids: list[list[str]] | None = None) -> tuple[Provider, list[str]]:
    """A Provider talking to a fake issuer; the JWKS answers name `key_ids` in turn (rotation)."""
    calls: list[str] = []
    rounds = iter(key_ids or [["k1"]])

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(200, json={"issuer": FAKE, "authorization_endpoint": f"{FAKE}/auth",
                                             "token_endpoint": f"{FAKE}/token", "jwks_uri": f"{FAKE}/certs"})
        if request.url.path.endswith("/certs"):
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
            return httpx.Response(200, json={"keys": [{**public, "kid": kid, "use": "sig"} for kid in next(rounds)]})
        assert b"code_verifier=" + PENDING.verifier.encode() in request.content
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 300, **tokens})

    config = WebConfig(node_id="n", level="municipal", tenants=(STUTTGART,), data_dir=tmp_path, oidc_issuer=FAKE,
                       oidc_audience=audience, oidc_client_id=CLIENT, oidc_client_secret="s")
    return Provider(config, transport=httpx.MockTransport(answer)), calls


def finish(provider: Provider) -> Any:
    return asyncio.run(provider.finish(PENDING, "the-code", "https://lotse.example/auth/callback"))


IDENTITY = {"sub": "amina", "aud": CLIENT, "nonce": PENDING.nonce}
ACCESS = {"sub": "amina", "aud": ["lotse", "account"], "realm_access": {"roles": ["manager"]},
          "tenants": [STUTTGART]}


def test_the_access_token_is_sent_when_it_is_for_the_apis_audience(tmp_path: Path) -> None:
    access = signed(ACCESS)
    provider, calls = fake_provider(tmp_path, {"access_token": access, "id_token": signed(IDENTITY)},
                                    key_ids=[["k0"], ["k0", "k1"]])  # a new key: the set is fetched again
    result = finish(provider)
    assert result.token == access and result.principal.roles == {"manager"}
    assert result.principal.tenants == {STUTTGART} and calls.count("/realms/lotse/certs") == 2


# Tokens are made when the test runs (not at collection): they expire five minutes after signing.
@pytest.mark.parametrize(("tokens", "problem"), [
    # nothing for audience "lotse"
    (lambda: {"access_token": "opaque", "id_token": signed(IDENTITY)}, Problem.INVALID),
    (lambda: {"access_token": signed(ACCESS), "id_token": signed({**IDENTITY, "nonce": "replayed"})},
     Problem.INVALID),
    (lambda: {"access_token": signed(ACCESS), "id_token": signed(IDENTITY, key=OTHER_KEY)}, Problem.INVALID),
    (lambda: {"access_token": signed(ACCESS), "id_token": signed({**IDENTITY, "iss": "https://evil.example"})},
     Problem.INVALID),
    (lambda: {"access_token": signed(ACCESS), "id_token": signed({**IDENTITY, "aud": "another-client"})},
     Problem.INVALID),
    (lambda: {"access_token": signed({**ACCESS, "sub": "someone-else"}), "id_token": signed(IDENTITY)},
     Problem.INVALID),
    (lambda: {"access_token": signed(ACCESS)}, Problem.INVALID),  # no ID token at all
    (lambda: {"access_token": signed({**ACCESS, "realm_access": {"roles": ["uma_authorization"]}}),
      "id_token": signed(IDENTITY)}, Problem.NO_ROLE),
], ids=["no-token-for-the-api", "nonce", "signature", "issuer", "audience", "two-subjects", "no-id-token",
        "no-role"])
def test_tokens_failing_a_check_are_refused(tmp_path: Path, tokens: Callable[[], dict[str, Any]],
                                            problem: Problem) -> None:
    provider, _ = fake_provider(tmp_path, tokens())
    with pytest.raises(SignInFailed) as failed:
        finish(provider)
    assert failed.value.problem == problem


def test_the_id_token_is_sent_when_it_carries_the_apis_audience(tmp_path: Path) -> None:
    identity = signed({**IDENTITY, "roles": ["lead"], "tenants": [STUTTGART]})
    provider, _ = fake_provider(tmp_path, {"access_token": "opaque", "id_token": identity}, audience=CLIENT)
    result = finish(provider)
    assert result.token == identity and result.principal.roles == {"lead"}
