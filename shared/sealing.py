"""Personal fields sealed at rest with their subject's key, transparently for the ORM.

A model lists its subject with `__subject__ = "case_id"` and marks fields `personal(..., encrypted=True)`
(a text or date field also takes `sa_type=SealedText()` / `SealedText("date")`: the ciphertext is longer
than the plaintext and is text); JSON columns keep their type and hold the sealed value as a JSON string.
Before a flush the changed fields are sealed (shared.keystore); after it, and whenever a row is loaded,
the objects hold plaintext again. Queries cannot filter on sealed fields: search decrypts in memory.
Sessions find the key store in `Session.info` (shared.db.Database puts it there).
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from sqlalchemy import JSON, Text, event, inspect
from sqlalchemy import text as sql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.types import TypeDecorator

from shared.db import APPEND_ONLY_PERMIT, SESSION_KEYSTORE, in_chunks
from shared.keystore import KeyStore, Shredded, is_sealed
from shared.privacy import Personal, mark_of

KEYSTORE = SESSION_KEYSTORE  # Session.info: the node's key store
_PENDING = "lotse_sealed_plaintext"
_SHRED = "lotse_shred_after_commit"
Kind = Literal["text", "date", "json"]
_FIELDS: dict[type, list[tuple[str, str, Kind]]] = {}


class SealedText(TypeDecorator[str]):
    """The column of a sealed field: text of any length; `kind` says what the plaintext is (text or date)."""

    impl = Text
    cache_ok = True

    def __init__(self, kind: Kind = "text") -> None:
        super().__init__()
        self.kind = kind

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise TypeError(f"a sealed column takes sealed text, not {type(value).__name__}: was the value sealed?")


def kind_of(column: Any) -> Kind:
    if isinstance(column.type, JSON):
        return "json"
    return column.type.kind if isinstance(column.type, SealedText) else "text"


def sealed_fields(cls: type) -> list[tuple[str, str, Kind]]:
    """(attribute, context, kind) of the encrypted fields of a mapped class."""
    if cls not in _FIELDS:
        found = []
        table = getattr(cls, "__table__", None)
        if table is not None and getattr(cls, "__subject__", None):
            for column in table.columns:
                what = mark_of(column) or getattr(cls, "__personal__", {}).get(column.key)
                if isinstance(what, Personal) and what.encrypted:
                    found.append((column.key, f"{table.name}.{column.key}", kind_of(column)))
        _FIELDS[cls] = found
    return _FIELDS[cls]


def _text(value: Any, kind: Kind) -> str:
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return value.isoformat() if kind == "date" and isinstance(value, date) else str(value)


def _value(text: str, kind: Kind) -> Any:
    if kind == "json":
        return json.loads(text)
    return date.fromisoformat(text) if kind == "date" else text


def keystore_of(session: Session) -> KeyStore:
    store = session.info.get(KEYSTORE)
    if store is None:
        raise RuntimeError("this session has no key store: personal fields cannot be sealed")
    return store  # type: ignore[no-any-return]


@event.listens_for(Session, "before_flush")
def _seal(session: Session, _context: Any, _instances: Any) -> None:
    pending: list[tuple[Any, dict[str, Any]]] = []
    for obj in [*session.new, *session.dirty]:
        fields = sealed_fields(type(obj))
        if not fields:
            continue
        state = inspect(obj)
        changed = state.committed_state  # the attributes set since the row was loaded (all, when pending)
        subject = str(getattr(obj, type(obj).__subject__))
        plain: dict[str, Any] = {}
        for name, context, kind in fields:
            if not state.pending and name not in changed:
                continue
            value = state.dict.get(name)
            if value is None or is_sealed(value):
                continue
            plain[name] = value
            setattr(obj, name, keystore_of(session).seal(subject, context, _text(value, kind)))
        if plain:
            pending.append((obj, plain))
    session.info.setdefault(_PENDING, []).extend(pending)


@event.listens_for(Session, "after_flush_postexec")
def _restore(session: Session, _context: Any) -> None:
    for obj, plain in session.info.pop(_PENDING, []):
        for name, value in plain.items():
            set_committed_value(obj, name, value)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_SHRED, None)


def shred_after_commit(session: Session, subjects: list[str]) -> None:
    """Destroy these subjects' keys once the caller's transaction committed (its erasure then holds).

    The key store is another database, so this is not atomic with the erasure: a crash in between leaves
    the key, and the service destroys the keys of what it erased when it next starts (`shred_erased`).
    """
    keystore_of(session)  # fail now, inside the transaction, when there is nothing to destroy them with
    session.info.setdefault(_SHRED, []).extend(subjects)


@event.listens_for(Session, "after_commit")
def _shred(session: Session) -> None:
    subjects = session.info.pop(_SHRED, [])
    if subjects:
        store = keystore_of(session)
        for subject in subjects:
            store.shred(subject)


def shred_erased(db: Any, subjects: list[str]) -> int:
    """Destroy the keys still alive of these erased subjects; how many were."""
    store: KeyStore | None = db.keystore
    if store is None or not subjects:
        return 0
    gone: set[str] = set()
    for chunk in in_chunks(subjects):
        gone.update(store.shredded(list(chunk)))
    alive = [s for s in subjects if s not in gone]
    for subject in alive:
        store.shred(subject)
    return len(alive)


def open_fields(obj: Any, session: Session | None) -> None:
    """Replace the sealed values of a loaded object by their plaintext (None once the key is destroyed)."""
    fields = sealed_fields(type(obj))
    if not fields or session is None:
        return
    store = session.info.get(KEYSTORE)
    subject = str(getattr(obj, type(obj).__subject__))
    for name, context, kind in fields:
        value = obj.__dict__.get(name)
        if is_sealed(value) and store is None:
            raise RuntimeError("this session has no key store: personal fields cannot be read")
        if is_sealed(value) or (kind == "date" and isinstance(value, str)):
            set_committed_value(obj, name, _plain(store, subject, context, kind, value))


def _plain(store: Any, subject: str, context: str, kind: Kind, value: Any) -> Any:
    """A stored value as plaintext: opened when sealed (None once the key is destroyed), else as written
    before the field was sealed (a date read back as text becomes a date)."""
    if not is_sealed(value):
        return date.fromisoformat(value[:10]) if kind == "date" and isinstance(value, str) else value
    try:
        return _value(store.open(subject, context, value), kind)
    except Shredded:
        return None


def opened(store: KeyStore, cls: type, subject: str, name: str, value: Any) -> Any:
    """One sealed field's plaintext as read by a column query (None once the subject's key is destroyed)."""
    for field, context, kind in sealed_fields(cls):
        if field == name:
            return _plain(store, subject, context, kind, value)
    return value


def sealed(cls: type) -> type:
    """Class decorator: rows of this model are opened as they load (and on refresh)."""
    event.listen(cls, "load", lambda obj, ctx: open_fields(obj, ctx.session))
    event.listen(cls, "refresh", lambda obj, ctx, _attrs: open_fields(obj, ctx.session))
    return cls


def sealed_models(tables: list[Any]) -> list[type]:
    """The mapped classes of these tables that seal fields."""
    from sqlmodel import SQLModel

    wanted = {id(t) for t in tables}
    return [m.class_ for m in SQLModel._sa_registry.mappers  # type: ignore[attr-defined]
            if id(m.local_table) in wanted and sealed_fields(m.class_)]


def seal_backlog(db: Any, tables: list[Any], *, batch: int = 500) -> int:
    """Seal what was written in plaintext before its field was sealed (a node upgraded in place); the count.

    Each batch is one transaction; run at start, before the node serves, so no one writes meanwhile. Once a
    database's pass is complete the key store remembers it, and later starts skip the scan: every write
    since goes through the sealing flush.
    """
    from sqlalchemy import and_, not_, or_, select
    from sqlalchemy.engine import make_url

    store: KeyStore = db.keystore
    database = make_url(db.url).render_as_string(hide_password=True)
    if store.backlog_sealed(database):
        return 0
    done = 0
    for cls in sealed_models(tables):
        table = cls.__table__  # type: ignore[attr-defined]
        plain = [and_(table.c[name].is_not(None), not_(table.c[name].cast(Text).like("%enc1:%")),
                      table.c[name].cast(Text) != '""', table.c[name].cast(Text) != "")
                 for name, _context, _kind in sealed_fields(cls)]
        key = list(table.primary_key.columns)[0]
        after: Any = None
        while True:
            with db.session() as session:
                query: Any = select(cls).where(or_(*plain)).order_by(key).limit(batch)
                if after is not None:
                    query = query.where(key > after)
                rows = list(session.scalars(query))
                if not rows:
                    break
                permit = table.info.get(APPEND_ONLY_PERMIT)  # an append-only table admits this with its permit
                if permit:
                    session.execute(sql(f"INSERT INTO {permit} DEFAULT VALUES"))
                for row in rows:
                    try:
                        store.key(str(getattr(row, cls.__subject__)))  # type: ignore[attr-defined]
                    except Shredded:  # erased: what is left is no one's data, and stays as it is
                        session.expunge(row)
                        continue
                    for name, _context, _kind in sealed_fields(cls):
                        if getattr(row, name) is not None:
                            flag_modified(row, name)
                session.flush()
                if permit:
                    session.execute(sql(f"DELETE FROM {permit}"))
                session.commit()
                after = getattr(rows[-1], key.key)
                done += len(rows)
    store.mark_backlog_sealed(database)
    return done
