"""Node keys: Ed25519 for signing envelopes, an HMAC key for pseudonyms that never leaves the node."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from shared.keyfile import read_or_create


def new_ed25519_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def signing_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / "node-ed25519.pem"


def next_key_path(data_dir: Path) -> Path:
    """A key made for a rotation: registered at the state first, then activated on the node."""
    return Path(data_dir) / "keys" / "node-ed25519.next.pem"


def _load(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def node_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The node's Ed25519 key (created on first use under keys/, mode 0600)."""
    return _load(read_or_create(signing_key_path(data_dir), new_ed25519_pem))


def next_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The key the node will sign with after the rotation (created on first use, mode 0600)."""
    return _load(read_or_create(next_key_path(data_dir), new_ed25519_pem))


def activate_next_key(data_dir: Path) -> Ed25519PrivateKey:
    """Sign with the next key from now on; the old one is kept as node-ed25519.previous.pem."""
    current, upcoming = signing_key_path(data_dir), next_key_path(data_dir)
    if not upcoming.exists():
        raise FileNotFoundError(upcoming)
    if current.exists():
        previous = current.with_name("node-ed25519.previous.pem")
        previous.unlink(missing_ok=True)
        os.link(current, previous)
    os.replace(upcoming, current)  # atomic: a running relay notices the new file and reloads it
    return node_signing_key(data_dir)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


@lru_cache(maxsize=4096)
def _verify_key(public_b64: str) -> VerifyKey:
    return VerifyKey(base64.b64decode(public_b64, validate=True))


def verify(public_b64: str, body: bytes, signature_b64: str) -> bool:
    """Ed25519 (RFC 8032) verification with libsodium: half the cost of OpenSSL's here, and it runs
    without the GIL, so a state node verifying thousands of envelopes a second leaves the interpreter
    to its read models."""
    try:
        _verify_key(public_b64).verify(body, base64.b64decode(signature_b64, validate=True))
        return True
    except (CryptoError, ValueError, TypeError):
        return False


class Pseudonymizer:
    """HMAC-SHA256 pseudonyms: the state can count distinct clients but never identify one."""

    def __init__(self, data_dir: Path) -> None:
        self._key = read_or_create(Path(data_dir) / "keys" / "pseudonym.key", lambda: secrets.token_bytes(32))

    def __call__(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
