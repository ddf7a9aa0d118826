"""Crypto-shredding: one data key per subject (a case), kept apart from the service databases.

Personal fields are encrypted with their case's key (AES-256-GCM). Erasing a case destroys its key,
so a backup of a service database taken before the erasure no longer reveals the person. The key
store is its own database (`keys` in LOTSE_DATABASE_URL's `{service}`, or `keys/subjects.db`), so
backing up a service database never copies the keys with it.
"""
from __future__ import annotations

import base64
import os
import threading
from collections import OrderedDict
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from shared.db import Database, in_chunks

PREFIX = "enc1:"  # a sealed value: version, then base64(nonce + ciphertext + tag)
NONCE_BYTES = 12


class Shredded(LookupError):
    """The subject's key was destroyed: its sealed values can never be read again, nor new ones written."""


class SubjectKey(SQLModel, table=True):
    """A subject's data key; after erasure only the tombstone (no key) remains, so it is never re-created."""

    __tablename__ = "subject_key"

    subject_id: str = Field(primary_key=True, max_length=64)
    key: bytes | None = Field(default=None, sa_type=LargeBinary)  # type: ignore[call-overload]
    created_at: datetime
    shredded_at: datetime | None = None


class SealedDatabase(SQLModel, table=True):
    """A service database whose rows from before sealing were all sealed: its start-up pass is not repeated."""

    __tablename__ = "sealed_database"

    name: str = Field(primary_key=True, max_length=500)  # the database's URL without its password
    sealed_at: datetime


class KeyStore:
    """Data keys per subject, cached briefly in memory (a destroyed key leaves the cache at once)."""

    def __init__(self, url: str, *, cache_size: int = 50_000) -> None:
        self.database = Database(url, [SubjectKey.__table__, SealedDatabase.__table__])  # type: ignore[attr-defined]
        self.database.create_all()  # two tables that never change shape: no migration history
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._ciphers: dict[str, AESGCM] = {}  # per cached key, made once (sealing opens many fields a request)
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def key(self, subject_id: str, *, create: bool = True) -> bytes | None:
        """The subject's key (made on first use when `create`); Shredded once it was destroyed."""
        with self._lock:
            if subject_id in self._cache:
                self._cache.move_to_end(subject_id)
                return self._cache[subject_id]
        with self.database.new_session(reading=True) as session:  # no writer lock for a read
            row = session.get(SubjectKey, subject_id)
        if row is None and create:
            try:
                with self.database.session() as session:
                    row = SubjectKey(subject_id=subject_id, key=AESGCM.generate_key(bit_length=256),
                                     created_at=datetime.now(UTC))
                    session.add(row)
                    session.commit()
            except IntegrityError:  # another process made it first: use that one
                with self.database.new_session(reading=True) as session:
                    row = session.get(SubjectKey, subject_id)
        if row is None:
            return None
        if row.key is None:
            raise Shredded(subject_id)
        with self._lock:
            self._remember(subject_id, row.key)
        return row.key

    def _remember(self, subject_id: str, key: bytes) -> None:
        """Cache a key (the caller holds the lock); the least recently used ones go beyond the cache's size."""
        self._cache[subject_id] = key
        while len(self._cache) > self._cache_size:
            self._ciphers.pop(self._cache.popitem(last=False)[0], None)

    def preload(self, subject_ids: list[str]) -> None:
        """Read the keys of many subjects in one query (a search opening hundreds of case files)."""
        with self._lock:
            missing = [s for s in dict.fromkeys(subject_ids) if s not in self._cache]
        for chunk in in_chunks(missing):
            with self.database.new_session(reading=True) as session:
                rows = session.exec(select(SubjectKey).where(col(SubjectKey.subject_id).in_(chunk))).all()
            with self._lock:
                for row in rows:
                    if row.key is not None:
                        self._remember(row.subject_id, row.key)

    def _cipher(self, subject_id: str, *, create: bool) -> AESGCM:
        """The subject's AES-GCM cipher (Shredded once its key was destroyed)."""
        cipher = self._ciphers.get(subject_id)
        if cipher is not None and subject_id in self._cache:
            return cipher
        key = self.key(subject_id, create=create)
        if key is None:
            raise Shredded(subject_id)
        cipher = self._ciphers[subject_id] = AESGCM(key)
        return cipher

    def shred(self, subject_id: str, *, session: Session | None = None) -> bool:
        """Destroy the subject's key (keeping a tombstone); True when there was one to destroy."""
        with self._lock:
            self._cache.pop(subject_id, None)
            self._ciphers.pop(subject_id, None)
        with self.database.session() as own:
            row = own.get(SubjectKey, subject_id)
            had_key = row is not None and row.key is not None
            if row is None:
                row = SubjectKey(subject_id=subject_id, created_at=datetime.now(UTC))
            row.key, row.shredded_at = None, datetime.now(UTC)
            own.add(row)
            own.commit()
        return had_key

    def shredded(self, among: list[str] | None = None) -> list[str]:
        """Subjects whose keys were destroyed (of `among`, when given)."""
        query = select(SubjectKey.subject_id).where(col(SubjectKey.key).is_(None))
        if among is not None:
            query = query.where(col(SubjectKey.subject_id).in_(among))
        with self.database.new_session(reading=True) as session:
            return list(session.exec(query))

    def seal(self, subject_id: str, context: str, plaintext: str) -> str:
        """Encrypt with the subject's key; `context` (table.column) binds the value to its place."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(subject_id, create=True).encrypt(nonce, plaintext.encode(),
                                                               f"{subject_id}|{context}".encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, subject_id: str, context: str, token: str) -> str:
        """Decrypt a sealed value; Shredded when the subject's key is gone."""
        raw = base64.b64decode(token[len(PREFIX):])
        cipher = self._cipher(subject_id, create=False)
        return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{subject_id}|{context}".encode()).decode()

    def backlog_sealed(self, name: str) -> bool:
        """Were the rows of this database written before sealing all sealed already?"""
        with self.database.new_session(reading=True) as session:
            return session.get(SealedDatabase, name) is not None

    def mark_backlog_sealed(self, name: str) -> None:
        with self.database.session() as session:
            session.merge(SealedDatabase(name=name, sealed_at=datetime.now(UTC)))
            session.commit()

    def dispose(self) -> None:
        self.database.dispose()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
