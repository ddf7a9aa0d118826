"""Parcels for another municipal node: sealed for its X25519 key alone, signed by the sending node.

Each municipal node has an X25519 key of its own (keys/node-x25519.key, made on first use, mode 0600); its
public half reaches the state in a signed NodeBoxKey and every node through the state's NodeDirectory, with
the node's Ed25519 signing key. A parcel is the sender's Ed25519 signature over the content and its label
(hand-over, part, sender, receiver), sealed with libsodium's sealed box for the receiver's public key: an
ephemeral key pair per parcel, so only the receiver can open it - not the state that relays it, and not the
sender either, once the parcel left (its copies in the sender's outbox and streams open for no one there).
Opening checks the signature with the sender's key from the directory, so a parcel changed on the way, or
made by anyone but the sending node, does not open.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from shared.keyfile import read_or_create

from .crypto import verify

SIGNATURE = 64  # bytes of an Ed25519 signature, in front of the signed body


class ParcelRefused(ValueError):
    """A parcel that does not open for this node, is not signed by its sender, or names another parcel."""


def box_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / "node-x25519.key"


def node_box_key(data_dir: Path) -> PrivateKey:
    """The node's X25519 key (created on first use under keys/, mode 0600)."""
    raw = read_or_create(box_key_path(data_dir), lambda: bytes(PrivateKey.generate()))
    return PrivateKey(raw)


def public_b64(key: PrivateKey) -> str:
    return base64.b64encode(bytes(key.public_key)).decode()


def label(handover_id: str, part: str, from_node: str, to_node: str) -> dict[str, str]:
    """What a parcel's signed inside repeats of its envelope: a parcel moved to another hand-over, part or
    node does not open as one."""
    return {"handover": handover_id, "part": part, "from": from_node, "to": to_node}


def seal(signer: Ed25519PrivateKey, their_public: str, label: dict[str, str], content: dict[str, Any]) -> str:
    """Sign `content` with its `label` (ids and addresses), and seal both for the holder of `their_public`."""
    body = json.dumps({"label": label, "content": content}, ensure_ascii=False, separators=(",", ":")).encode()
    box = SealedBox(PublicKey(base64.b64decode(their_public)))
    return base64.b64encode(bytes(box.encrypt(signer.sign(body) + body))).decode()


def open_parcel(own: PrivateKey, sender_sign_key: str, label: dict[str, str], sealed: str) -> dict[str, Any]:
    """The content of a parcel signed by the holder of `sender_sign_key`; ParcelRefused when it was changed,
    made by someone else, or moved to another hand-over."""
    try:
        signed = SealedBox(own).decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, ValueError, TypeError) as exc:
        raise ParcelRefused(f"the parcel does not open with this node's key ({type(exc).__name__})") from None
    signature, body = signed[:SIGNATURE], signed[SIGNATURE:]
    if not verify(sender_sign_key, body, base64.b64encode(signature).decode()):
        raise ParcelRefused("the parcel is not signed by the sending node's key")
    try:
        inside = json.loads(body)
    except ValueError:
        raise ParcelRefused("the parcel's inside is not a hand-over") from None
    if not isinstance(inside, dict) or inside.get("label") != label or not isinstance(inside.get("content"), dict):
        raise ParcelRefused("the parcel's inside names another hand-over, sender or receiver")
    return inside["content"]  # type: ignore[no-any-return]
