"""The state's node registry and key rotation: domain rules, no server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Table

from shared.db import Database
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope, envelope_for, new_event_id, utcnow
from shared.events.cases import ConsultationRecorded
from shared.events.codes import Mode, Topic
from shared.federation import crypto, registry
from shared.federation.ingest import check
from shared.federation.models import FEDERATION_TABLES, RegisteredNode
from shared.federation.relay import project
from shared.runtime.checks import fetch_discovery
from shared.runtime.failures import OperatorError

MakeDb = Callable[[Sequence[Table]], Database]


def consultation_envelope(case_id: str) -> Envelope:
    payload = ConsultationRecorded(case_id=case_id, consultation_id=new_event_id(), manager="mia",
                                   held_on=date(2026, 11, 3), duration_minutes=45, mode=Mode.outreach,
                                   topics=[Topic.language])
    return envelope_for(payload, tenant="08111000", node="node-a", aggregate_id=case_id)


def public(path: Path) -> str:
    return crypto.public_key_b64(crypto.node_signing_key(path))


def test_register_validates_and_refuses_a_tenant_another_node_holds(database: MakeDb, tmp_path: Path) -> None:
    db = database(FEDERATION_TABLES)
    a, b = public(tmp_path / "a"), public(tmp_path / "b")
    with db.session() as s:
        registry.register(s, node_id="node-a", tenants=["08111000"], public_key=a)
        with pytest.raises(Conflict, match="08111000 is already served by node node-a"):
            registry.register(s, node_id="node-b", tenants=["08221000", "08111000"], public_key=b)
        with pytest.raises(InvalidInput) as bad:
            registry.register(s, node_id="-node", tenants=["08221000"], public_key=b)
        assert bad.value.field == "node_id"
        with pytest.raises(InvalidInput) as bad:
            registry.register(s, node_id="node-b", tenants=["0822100"], public_key=b)
        assert bad.value.field == "tenant"
        with pytest.raises(InvalidInput) as bad:
            registry.register(s, node_id="node-b", tenants=["08221000"], public_key="AAAA")
        assert bad.value.field == "public_key"
        with pytest.raises(Conflict, match="rotate-key"):
            registry.register(s, node_id="node-a", tenants=["08111000"], public_key=b)
        node = registry.register(s, node_id="node-a", tenants=["08111000", "08421000"], public_key=a)
        assert node.tenants == ["08111000", "08421000"]
        s.commit()
    with db.session() as s:
        assert [n.node_id for n in registry.list_nodes(s)] == ["node-a"]
        registry.remove(s, node_id="node-a")
        with pytest.raises(NotFound):
            registry.remove(s, node_id="node-a")
        s.commit()


def test_a_rotated_key_overlaps_with_the_old_one(database: MakeDb, tmp_path: Path) -> None:
    db = database(FEDERATION_TABLES)
    old_key, new_key = crypto.node_signing_key(tmp_path / "a"), crypto.next_signing_key(tmp_path / "a")
    now = utcnow()
    with db.session() as s:
        registry.register(s, node_id="node-a", tenants=["08111000"], public_key=crypto.public_key_b64(old_key))
        node = registry.rotate_key(s, node_id="node-a", public_key=crypto.public_key_b64(new_key),
                                   overlap=timedelta(hours=1), now=now)
        with pytest.raises(Conflict):
            registry.rotate_key(s, node_id="node-a", public_key=crypto.public_key_b64(new_key),
                                overlap=timedelta(hours=1), now=now)
        with pytest.raises(NotFound):
            registry.rotate_key(s, node_id="node-x", public_key=crypto.public_key_b64(old_key),
                                overlap=timedelta(hours=1), now=now)
        s.commit()
    env = project(consultation_envelope("case-1"), lambda v: "p" * 64, "node-a")
    body = env.to_json().encode()

    def signed_by(key: object) -> dict[bytes, bytes]:
        return {b"event": body, b"sig": crypto.sign(key, body).encode()}  # type: ignore[arg-type]

    assert check(node, "node-a", signed_by(new_key), now).reason is None
    assert check(node, "node-a", signed_by(old_key), now + timedelta(minutes=59)).reason is None
    assert check(node, "node-a", signed_by(old_key), now + timedelta(hours=2)).reason == "bad signature"
    with db.session() as s:
        (status,) = registry.node_statuses(s, now=now)
        assert status.previous_key_until is not None
        (later,) = registry.node_statuses(s, now=now + timedelta(hours=2))
        assert later.previous_key_until is None


def test_activating_the_next_key_keeps_the_old_one(tmp_path: Path) -> None:
    current = crypto.public_key_b64(crypto.node_signing_key(tmp_path))
    upcoming = crypto.public_key_b64(crypto.next_signing_key(tmp_path))
    assert crypto.public_key_b64(crypto.activate_next_key(tmp_path)) == upcoming
    assert crypto.public_key_b64(crypto.node_signing_key(tmp_path)) == upcoming
    assert not crypto.next_key_path(tmp_path).exists()
    kept = crypto._load((tmp_path / "keys" / "node-ed25519.previous.pem").read_bytes())
    assert crypto.public_key_b64(kept) == current
    with pytest.raises(FileNotFoundError):
        crypto.activate_next_key(tmp_path)


def test_a_removed_node_is_unregistered() -> None:
    assert check(None, "node-a", {b"event": b"{}", b"sig": b"x"}).reason == "unregistered node"
    node = RegisteredNode(node_id="node-a", tenants=["08111000"], public_key="x", acl_user="node-node-a")
    assert node.keys_at(utcnow()) == ["x"]


def discovery(doc: object, status: int = 200) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=doc)))


def test_oidc_discovery_document_is_checked() -> None:
    issuer = "https://login.example/realms/lotse"
    good = {"issuer": issuer, "jwks_uri": f"{issuer}/protocol/openid-connect/certs"}
    assert fetch_discovery(issuer, discovery(good)) == good
    with pytest.raises(OperatorError, match="names the issuer 'https://evil.example'"):
        fetch_discovery(issuer, discovery({**good, "issuer": "https://evil.example"}))
    with pytest.raises(OperatorError, match="no https jwks_uri"):
        fetch_discovery(issuer, discovery({"issuer": issuer}))
    with pytest.raises(OperatorError, match="LOTSE_OIDC_ISSUER: cannot fetch .*404"):
        fetch_discovery(issuer, discovery({}, status=404))
