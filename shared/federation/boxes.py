"""Parcels for another municipal node: sealed with libsodium's box (X25519 + XSalsa20-Poly1305).

Each municipal node has an X25519 key of its own (keys/node-x25519.key, made on first use, mode 0600); its
public half reaches the state in a signed NodeBoxKey and every node through the state's NodeDirectory.
A box is made with the sender's private key and the receiver's public key, so opening one proves both who
sealed it and that it is unchanged; the state, which relays the parcels, holds neither private key.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey

from shared.keyfile import read_or_create


class ParcelRefused(ValueError):
    """A parcel that does not open with the sender's key, or whose inside names another parcel."""


def box_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / "node-x25519.key"


def node_box_key(data_dir: Path) -> PrivateKey:
    """The node's X25519 key (created on first use under keys/, mode 0600)."""
    raw = read_or_create(box_key_path(data_dir), lambda: bytes(PrivateKey.generate()))
    return PrivateKey(raw)


def public_b64(key: PrivateKey) -> str:
    return base64.b64encode(bytes(key.public_key)).decode()


def seal(own: PrivateKey, their_public: str, label: dict[str, str], content: dict[str, Any]) -> str:
    """Seal `content` for the holder of `their_public`; `label` (ids and addresses) is sealed with it."""
    body = json.dumps({"label": label, "content": content}, ensure_ascii=False, separators=(",", ":"))
    box = Box(own, PublicKey(base64.b64decode(their_public)))
    return base64.b64encode(bytes(box.encrypt(body.encode()))).decode()


def open_parcel(own: PrivateKey, their_public: str, label: dict[str, str], sealed: str) -> dict[str, Any]:
    """The content of a parcel from the holder of `their_public`; ParcelRefused when it was changed or moved."""
    try:
        box = Box(own, PublicKey(base64.b64decode(their_public)))
        body = json.loads(box.decrypt(base64.b64decode(sealed, validate=True)))
    except (CryptoError, ValueError, TypeError) as exc:
        raise ParcelRefused(f"the parcel does not open with the sender's key ({type(exc).__name__})") from None
    if not isinstance(body, dict) or body.get("label") != label or not isinstance(body.get("content"), dict):
        raise ParcelRefused("the parcel's inside names another hand-over, sender or receiver")
    return body["content"]  # type: ignore[no-any-return]
