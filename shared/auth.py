"""Bearer-token authentication: dev tokens signed by a per-node key, or an external OIDC issuer."""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from shared.keyfile import read_or_create

ROLES = ("manager", "lead", "node_admin", "funding_officer", "state_operator")
DEV_ISSUER = "lotse-dev"
OIDC_ALGORITHMS = ["RS256", "ES256", "EdDSA"]  # what an issuer's tokens may be signed with


class TokenError(Exception):
    """A token could not be issued or verified; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, roles, tenants."""

    sub: str
    roles: frozenset[str]
    tenants: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / "dev-token.pem"


def _previous_key_path(data_dir: Path) -> Path:
    """The key before the last rotation: it still verifies (the overlap) until it is retired."""
    return Path(data_dir) / "keys" / "dev-token.previous.pem"


def rotate_dev_key(data_dir: Path) -> None:
    """Sign with a new dev-token key from now on; tokens of the current one stay valid until retired."""
    current, previous = _key_path(data_dir), _previous_key_path(data_dir)
    if current.exists():
        os.replace(current, previous)  # a running node finds it there on its next unknown signature
    load_or_create_dev_key(data_dir)


def retire_previous_dev_key(data_dir: Path) -> bool:
    """End the overlap: tokens signed with the key before the last rotation are refused from now on."""
    path = _previous_key_path(data_dir)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def dev_public_keys(data_dir: Path) -> list[Any]:
    """The keys a dev token may be signed with: the current one and, during an overlap, the previous one."""
    keys: list[Any] = [load_or_create_dev_key(data_dir).public_key()]
    previous = _previous_key_path(data_dir)
    with suppress(FileNotFoundError):
        key = serialization.load_pem_private_key(previous.read_bytes(), password=None)
        keys.append(key.public_key())
    return keys


def _key_files_stamp(data_dir: Path) -> tuple[float, ...]:
    """Changes when a key file is rotated or retired (checked before re-reading the keys)."""
    stamps = []
    for path in (_key_path(data_dir), _previous_key_path(data_dir)):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except FileNotFoundError:
            stamps.append(-1)
    return tuple(stamps)


def load_or_create_dev_key(data_dir: Path) -> Ed25519PrivateKey:
    """The node's dev-token signing key, created on first use (mode 0600)."""
    from shared.federation.crypto import new_ed25519_pem

    key = serialization.load_pem_private_key(read_or_create(_key_path(data_dir), new_ed25519_pem),
                                             password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def issue_dev_token(
    data_dir: Path, *, node_id: str, node_tenants: list[str], sub: str, roles: list[str],
    tenants: list[str], ttl_s: int = 12 * 3600,
) -> str:
    """Sign a dev token for this node; rejects unknown roles and tenants the node does not serve."""
    if not sub:
        raise TokenError("--sub: must not be empty")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise TokenError(f"--role: unknown role {', '.join(bad) or '(none)'}; choose from {', '.join(ROLES)}")
    foreign = [t for t in tenants if t not in node_tenants]
    if foreign:
        raise TokenError(f"--tenant: {', '.join(foreign)} is not a tenant of node {node_id} "
                         f"({', '.join(node_tenants)})")
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": node_id, "sub": sub, "roles": roles,
              "tenants": tenants or list(node_tenants), "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, load_or_create_dev_key(data_dir), algorithm="EdDSA")


# A verified token is remembered this long at most (never past its expiry): an issuer's key retired in the
# meantime refuses it again within a minute; a dev key retired on this node does so at once.
VERIFIED_TTL_S = 60.0
VERIFIED_MAX = 4096


class Authenticator:
    """Verifies bearer tokens for one node."""

    def __init__(self, *, node_id: str, data_dir: Path, oidc_issuer: str | None = None,
                 oidc_audience: str = "lotse", tenants: list[str] | None = None) -> None:
        self.node_id = node_id
        self.tenants = frozenset(tenants or [])  # the node's tenants: a token for none of them is refused
        self.oidc_issuer = oidc_issuer
        self.audience = oidc_audience
        self._jwks: jwt.PyJWKClient | None = None
        self.data_dir = Path(data_dir)
        self._public: list[Any] = []
        self._stamp: tuple[float, ...] = ()
        if not oidc_issuer:
            self._stamp, self._public = _key_files_stamp(self.data_dir), dev_public_keys(self.data_dir)
        # Tokens verified lately (a page makes several API calls with one): token -> (valid until, caller).
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._verified_lock = threading.Lock()

    def _dev_keys_current(self) -> None:
        """Reload the dev keys when their files changed; a rotation or retirement on disk counts at once."""
        stamp = _key_files_stamp(self.data_dir)  # two stat calls: cheaper than the signature check
        if stamp != self._stamp:
            with self._verified_lock:
                self._verified.clear()  # what a retired key signed is verified again, and refused
            self._stamp, self._public = stamp, dev_public_keys(self.data_dir)

    def cached(self, token: str) -> Principal | None:
        """The caller of a token verified within the last VERIFIED_TTL_S and not expired since; else None."""
        if not self.oidc_issuer:
            self._dev_keys_current()
        hit = self._verified.get(token)
        return hit[1] if hit is not None and hit[0] > time.time() else None

    def _remember(self, token: str, claims: dict[str, Any], principal: Principal) -> None:
        now = time.time()
        until = min(float(claims.get("exp", now)), now + VERIFIED_TTL_S)
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_MAX:
                self._verified.pop(next(iter(self._verified)))  # the oldest entry
            self._verified[token] = (until, principal)

    def _dev_claims(self, token: str) -> dict[str, Any]:
        """A dev token's claims, checked against every valid key."""
        self._dev_keys_current()
        for key in self._public:
            try:
                return jwt.decode(token, key, algorithms=["EdDSA"], audience=self.node_id, issuer=DEV_ISSUER)
            except jwt.InvalidSignatureError:
                continue
        raise jwt.InvalidSignatureError("Signature verification failed")

    def _jwks_client(self) -> jwt.PyJWKClient:
        """Discover the issuer's JWKS from its OpenID configuration (once; keys are cached)."""
        if self._jwks is None:
            conf = httpx.get(f"{str(self.oidc_issuer).rstrip('/')}/.well-known/openid-configuration",
                             timeout=5).raise_for_status().json()
            self._jwks = jwt.PyJWKClient(conf["jwks_uri"], cache_keys=True)
        return self._jwks

    def _signing_key(self, token: str) -> Any:
        """The issuer's key the token names; a token without a key id may use the issuer's only key (RFC 7515)."""
        client = self._jwks_client()
        if jwt.get_unverified_header(token).get("kid") is None:
            keys = client.get_signing_keys()
            if len(keys) == 1:
                return keys[0].key
        return client.get_signing_key_from_jwt(token).key

    def verify(self, token: str) -> Principal:
        known = self.cached(token)
        if known is not None:
            return known
        try:
            if self.oidc_issuer:
                key = self._signing_key(token)
                claims = jwt.decode(token, key, algorithms=OIDC_ALGORITHMS,
                                    audience=self.audience, issuer=self.oidc_issuer)
            else:
                claims = self._dev_claims(token)
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, OSError) as exc:
            raise TokenError(f"invalid token: {exc}") from None
        principal = principal_of(claims)
        if self.tenants and not principal.tenants & self.tenants:
            raise TokenError("invalid token: for no tenant this node serves")
        self._remember(token, claims, principal)
        return principal


def principal_of(claims: dict[str, Any]) -> Principal:
    """The caller a verified token names: roles from `roles` or Keycloak's `realm_access.roles`, `tenants`."""
    realm = claims.get("realm_access")
    if realm is not None and not isinstance(realm, dict):
        raise TokenError("invalid token: realm_access must be an object")
    roles = claims.get("roles") or (realm or {}).get("roles") or []
    tenants = claims.get("tenants") or []
    if not (isinstance(roles, list) and isinstance(tenants, list) and all(isinstance(x, str) for x in roles + tenants)):
        raise TokenError("invalid token: roles and tenants must be lists of strings")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("invalid token: no subject")
    return Principal(sub=sub, roles=frozenset(r for r in roles if r in ROLES), tenants=frozenset(tenants))


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller; 401 without a valid bearer token (deny by default).

    A dev token is checked on the event loop (a signature check, no I/O); an OIDC token in a worker
    thread, since its issuer's keys may have to be fetched.
    The node's request guard has usually verified the token already, before the body was read.
    """
    verified = getattr(request.state, "principal", None)
    if isinstance(verified, Principal):
        return check_roles(verified)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    authenticator: Authenticator = request.app.state.authenticator
    try:
        if authenticator.oidc_issuer and authenticator.cached(token) is None:
            principal = await run_in_threadpool(authenticator.verify, token)
        else:
            principal = authenticator.verify(token)
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc),
                            headers={"WWW-Authenticate": "Bearer"}) from None
    return check_roles(principal)


def check_roles(principal: Principal) -> Principal:
    """403 for a valid token without any Lotse role."""
    if not principal.roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "token carries no Lotse role")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(principal: Principal, *roles: str) -> None:
    """403 unless the caller has one of the roles."""
    if not principal.has(*roles):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires role {' or '.join(roles)}")


def tenant_for_write(principal: Principal, requested: str | None, node_tenants: list[str]) -> str:
    """The tenant a new record belongs to: the requested one if the caller may act for it."""
    allowed = sorted(principal.tenants.intersection(node_tenants))
    if requested is None:
        if len(allowed) == 1:
            return allowed[0]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"field": "tenant", "reason": "required: the caller acts for several tenants"
                              if allowed else "the caller acts for no tenant of this node"}])
    if requested not in allowed:
        # Same answer for a tenant that exists elsewhere and one that does not: no probing.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"field": "tenant", "reason": "not a tenant the caller may act for"}])
    return requested


def can_see(principal: Principal, tenant: str) -> bool:
    """Whether an object of this tenant exists for the caller (else answer 404, like a missing one)."""
    return tenant in principal.tenants
