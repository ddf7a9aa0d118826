"""Crypto-shredding: personal fields sealed with their case's key, unreadable once the key is destroyed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import JSON, Column, text
from sqlmodel import Field, Session, SQLModel

from shared.db import Database
from shared.keystore import KeyStore, Shredded
from shared.privacy import DataClass, Personal, Retention, mark, not_personal, personal
from shared.sealing import KEYSTORE, sealed


@sealed
class Client(SQLModel, table=True):
    """A toy case file: the subject is the case."""

    __tablename__ = "sealing_client"
    __subject__ = "case_id"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = not_personal("the case's id (ULID)", max_length=64)
    name: str = personal(DataClass.identity, "counselling", encrypted=True)
    languages: list[str] = Field(default_factory=list, sa_column=mark(
        Column(JSON, nullable=False), Personal(DataClass.origin, "counselling", Retention.case, encrypted=True)))
    note: str | None = personal(DataClass.case_content, "counselling", encrypted=True, default=None)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Database, KeyStore]:
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    db = Database(f"sqlite:///{tmp_path / 'cases.db'}", [Client.__table__])  # type: ignore[list-item]
    db.create_all()
    return db, keys


def session(db: Database, keys: KeyStore) -> Session:
    return Session(db.engine, expire_on_commit=False, info={KEYSTORE: keys})


def raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_personal_fields_are_sealed_at_rest_and_plain_in_the_objects(stores, tmp_path: Path) -> None:
    db, keys = stores
    with session(db, keys) as s:
        row = Client(case_id="case-1", name="Amina Canary", languages=["ar", "Kanarisch"], note="Canarynote")
        s.add(row)
        s.commit()
        assert row.name == "Amina Canary" and row.languages == ["ar", "Kanarisch"]  # usable after the flush
        row.note = "Second canarynote"
        s.commit()
    with db.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT name, languages, note FROM sealing_client")).one()._mapping)
    assert all("anary" not in str(v) and "Kanarisch" not in str(v) for v in stored.values()), stored
    assert b"Canary" not in raw(tmp_path / "cases.db") and b"Kanarisch" not in raw(tmp_path / "cases.db")
    with session(db, keys) as s:
        (again,) = s.query(Client).all()
        assert (again.name, again.languages, again.note) == ("Amina Canary", ["ar", "Kanarisch"], "Second canarynote")


def test_a_destroyed_key_leaves_a_backup_unreadable_and_refuses_new_values(stores, tmp_path: Path) -> None:
    db, keys = stores
    with session(db, keys) as s:
        s.add_all([Client(case_id="erased", name="Erased Person"), Client(case_id="kept", name="Kept Person")])
        s.commit()
    db.dispose()
    shutil.copy(tmp_path / "cases.db", tmp_path / "backup.db")  # a backup taken before the erasure
    assert keys.shred("erased") is True
    backup = Database(f"sqlite:///{tmp_path / 'backup.db'}", [Client.__table__])  # type: ignore[list-item]
    with session(backup, keys) as s:
        names = {c.case_id: c.name for c in s.query(Client).all()}
    assert names == {"erased": None, "kept": "Kept Person"}
    with session(db, keys) as s, pytest.raises(Shredded):
        s.add(Client(case_id="erased", name="Back again"))
        s.commit()
    assert keys.shredded() == ["erased"] and keys.shred("erased") is False


def test_a_sealed_value_moved_to_another_case_or_column_does_not_open(stores) -> None:
    db, keys = stores
    token = keys.seal("case-a", "sealing_client.name", "Amina")
    assert keys.open("case-a", "sealing_client.name", token) == "Amina"
    for subject, context in (("case-b", "sealing_client.name"), ("case-a", "sealing_client.note")):
        keys.key(subject)
        with pytest.raises(InvalidTag):
            keys.open(subject, context, token)


def test_a_session_without_the_key_store_refuses_to_write_personal_fields(stores) -> None:
    db, _ = stores
    with Session(db.engine) as s, pytest.raises(RuntimeError, match="key store"):
        s.add(Client(case_id="case-1", name="Amina"))
        s.commit()
