"""OpenID Connect sign-in: authorization code flow with PKCE (Authlib), the ID token checked, the API's token chosen."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import warnings
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request

from shared.auth import OIDC_ALGORITHMS, Principal, TokenError, principal_of
from web.config import WebConfig
from web.session import cookie_header, session_key

with warnings.catch_warnings():
    # Authlib 1.9 warns on every import that its client prefers httpx2 to httpx; printed raw on stderr,
    # the warning would break the node's JSON log lines. Its httpx client works as documented.
    import authlib.deprecate  # noqa: F401  # it installs an "always" filter of its own, overridden here
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.rfc6749.errors import OAuth2Error

log = logging.getLogger(__name__)

PENDING_COOKIE = "lotse_oidc"
CALLBACK_PATH = "/auth/callback"
PENDING_TTL_S = 600  # a sign-in at the provider must come back within 10 minutes
TIMEOUT_S = 10.0
ID_TOKEN_LEEWAY_S = 60  # clock skew between the provider and this node


class Problem(StrEnum):
    """Why a sign-in did not complete; each has its own explanation on the page."""

    UNREACHABLE = "unreachable"  # the provider's discovery, keys or token endpoint did not answer
    DECLINED = "declined"  # the provider sent the user back with ?error=
    STALE = "stale"  # no sign-in of this browser matches the answer (state), or it took too long
    INVALID = "invalid"  # the code exchange or a token failed the checks
    NO_ROLE = "no_role"  # signed in at the provider, but with no Lotse role


class SignInFailed(Exception):
    """A sign-in was refused or could not be completed; `detail` is for the log, never for the page."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Pending:
    """One sign-in under way: what the answer must match (state, nonce) and the PKCE verifier."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Pending:
        return cls(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32), verifier=generate_token(64))


@dataclass(frozen=True)
class SignedIn:
    """The token the web app will send to the API, and who it names."""

    token: str
    principal: Principal


class PendingCookie:
    """The pre-session: one Pending, encrypted with the session key, readable for PENDING_TTL_S only."""

    def __init__(self, key: bytes) -> None:
        self.fernet = Fernet(key)

    def dump(self, pending: Pending) -> str:
        return self.fernet.encrypt(json.dumps(asdict(pending)).encode()).decode()

    def load(self, value: str | None) -> Pending | None:
        if not value:
            return None
        try:
            return Pending(**json.loads(self.fernet.decrypt(value.encode(), ttl=PENDING_TTL_S)))
        except (InvalidToken, ValueError, TypeError):
            return None

    def header(self, pending: Pending | None, *, secure: bool) -> str:
        """Set-Cookie for the callback's path only; None: delete it (a sign-in is answered once)."""
        value, age = (self.dump(pending), PENDING_TTL_S) if pending else ("", 0)
        return cookie_header(PENDING_COOKIE, value, secure=secure, max_age=age, path=CALLBACK_PATH).decode("latin-1")


def _jwt_shaped(token: str | None) -> bool:
    return bool(token) and str(token).count(".") == 2


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [str(a) for a in aud or []]


class Provider:
    """The issuer as the web app meets it: its metadata and keys (kept; keys fetched again for a new key id)."""

    def __init__(self, config: WebConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        assert config.oidc_issuer, "OIDC sign-in needs LOTSE_OIDC_ISSUER"
        self.config = config
        self.issuer = config.oidc_issuer
        self.transport = transport
        self.pending = PendingCookie(session_key(config.session_key_file))
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKSet | None = None

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT_S, transport=self.transport)

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=self.config.oidc_client_id, client_secret=self.config.oidc_client_secret,
                                 scope=self.config.oidc_scopes, redirect_uri=redirect_uri,
                                 code_challenge_method="S256", timeout=TIMEOUT_S, transport=self.transport)

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                answer = (await client.get(url)).raise_for_status().json()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise SignInFailed(Problem.UNREACHABLE, f"{url}: {exc}") from None
        if not isinstance(answer, dict):
            raise SignInFailed(Problem.UNREACHABLE, f"{url}: not a JSON object")
        return answer

    async def metadata(self) -> dict[str, Any]:
        """The discovery document; it must name this issuer and the endpoints the flow needs."""
        if self._metadata is None:
            doc = await self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if str(doc.get("issuer", "")).rstrip("/") != self.issuer.rstrip("/"):
                raise SignInFailed(Problem.UNREACHABLE, f"the discovery document names the issuer "
                                                        f"{doc.get('issuer')!r}, not {self.issuer!r}")
            missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
            if missing:
                raise SignInFailed(Problem.UNREACHABLE, f"the discovery document lacks {', '.join(missing)}")
            self._metadata = doc
        return self._metadata

    async def start(self, redirect_uri: str, lang: str) -> tuple[str, Pending]:
        """Where to send the browser to sign in, and what its answer must match."""
        endpoint = (await self.metadata())["authorization_endpoint"]
        pending = Pending.new()
        async with self._oauth(redirect_uri) as client:
            url, _ = client.create_authorization_url(endpoint, state=pending.state, code_verifier=pending.verifier,
                                                     nonce=pending.nonce, ui_locales=lang)
        return url, pending

    async def finish(self, pending: Pending, code: str, redirect_uri: str) -> SignedIn:
        """Exchange the code (with the PKCE verifier), check the ID token, choose the token for the API."""
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with self._oauth(redirect_uri) as client:
                tokens = await client.fetch_token(endpoint, grant_type="authorization_code", code=code,
                                                  code_verifier=pending.verifier)
        except httpx.HTTPError as exc:
            raise SignInFailed(Problem.UNREACHABLE, f"token endpoint {endpoint}: {exc}") from None
        except (OAuthError, OAuth2Error, ValueError) as exc:
            raise SignInFailed(Problem.INVALID, f"token endpoint refused the code: {exc}") from None
        id_token = tokens.get("id_token")
        if not _jwt_shaped(id_token):
            raise SignInFailed(Problem.INVALID, "the token answer has no ID token (is the openid scope granted?)")
        identity = await self._verify(str(id_token), self.config.oidc_client_id, leeway=ID_TOKEN_LEEWAY_S,
                                      required=["exp", "iat", "sub"])
        if not hmac.compare_digest(str(identity.get("nonce", "")).encode(), pending.nonce.encode()):
            raise SignInFailed(Problem.INVALID, "the ID token's nonce is not this sign-in's")
        if len(_audiences(identity)) > 1 and identity.get("azp") != self.config.oidc_client_id:
            raise SignInFailed(Problem.INVALID, "the ID token was issued to another party (azp)")
        token, claims = await self._for_the_api(tokens.get("access_token"), str(id_token), identity)
        try:
            principal = principal_of(claims)
        except TokenError as exc:
            raise SignInFailed(Problem.INVALID, str(exc)) from None
        if principal.sub != str(identity["sub"]):
            raise SignInFailed(Problem.INVALID, "the access token and the ID token name different subjects")
        if not principal.roles:
            raise SignInFailed(Problem.NO_ROLE, f"{principal.sub} carries no Lotse role")
        return SignedIn(token=token, principal=principal)

    async def _for_the_api(self, access: Any, id_token: str, identity: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The access token if the API accepts it (a JWT for LOTSE_OIDC_AUDIENCE), else the ID token if it does."""
        audience = self.config.oidc_audience
        if _jwt_shaped(access):
            try:
                return str(access), await self._verify(str(access), audience)
            except SignInFailed as exc:
                log.info("the access token is not one the API accepts (%s); trying the ID token", exc.detail)
        if audience in _audiences(identity):
            return id_token, identity
        raise SignInFailed(Problem.INVALID, f"neither the access token nor the ID token carries the audience "
                                            f"{audience!r} (LOTSE_OIDC_AUDIENCE): map it into the access token, "
                                            f"or set it to the client id {self.config.oidc_client_id!r}")

    async def _verify(self, token: str, audience: str, *, leeway: int = 0,
                      required: list[str] | None = None) -> dict[str, Any]:
        """A token's claims, checked as the API checks them: signature by the issuer's keys, issuer, audience."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._signing_key(kid)
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=OIDC_ALGORITHMS, audience=audience, issuer=self.issuer, leeway=leeway,
                options={"require": required or []})
        except jwt.PyJWTError as exc:
            raise SignInFailed(Problem.INVALID, f"token for {audience!r}: {exc}") from None
        return claims

    async def _signing_key(self, kid: str | None) -> Any:
        """The issuer's key with this id; the key set is fetched again once if it does not know the id (rotation)."""
        for refresh in (False, True):
            if self._keys is None or refresh:
                document = await self._get_json((await self.metadata())["jwks_uri"])
                try:
                    self._keys = jwt.PyJWKSet.from_dict(document)
                except jwt.PyJWTError as exc:
                    raise SignInFailed(Problem.UNREACHABLE, f"the issuer's key set: {exc}") from None
            signing = [k for k in self._keys.keys if k.public_key_use in (None, "sig")]
            found = [k for k in signing if k.key_id == kid] if kid else signing[:1] if len(signing) == 1 else []
            if found:
                return found[0].key
        raise SignInFailed(Problem.INVALID, f"the issuer has no signing key {kid!r}")

    async def end_session_url(self) -> str | None:
        """Where a user also signs out at the provider (RP-initiated logout), if it says so and answers."""
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except SignInFailed:
            return None
        if not endpoint or urlsplit(str(endpoint)).scheme not in ("https", "http"):
            return None
        joiner = "&" if "?" in str(endpoint) else "?"
        return f"{endpoint}{joiner}{urlencode({'client_id': self.config.oidc_client_id})}"


def callback_url(request: Request) -> str:
    """The redirect URI: this site's callback as the browser reaches it (a proxy passes Host, X-Forwarded-Proto)."""
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def provider_of(request: Request, config: WebConfig) -> Provider:
    """The web app's one Provider, made on first use (it keeps the issuer's metadata and keys)."""
    state = request.app.state
    provider: Provider | None = getattr(state, "oidc_provider", None)
    if provider is None:
        provider = state.oidc_provider = Provider(config)
    return provider
