"""Personal fields sealed at rest with their subject's key, transparently for the ORM.

A model lists its subject with `__subject__ = "case_id"` and marks fields `personal(..., encrypted=True)`.
Before a flush the changed fields are sealed (shared.keystore); after it, and whenever a row is loaded,
the objects hold plaintext again. Queries cannot filter on sealed fields: search decrypts in memory.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shared.keystore import KeyStore, Shredded, is_sealed
from shared.privacy import Personal, mark_of

KEYSTORE = "lotse_keystore"  # Session.info: the node's key store
_PENDING = "lotse_sealed_plaintext"
_FIELDS: dict[type, list[tuple[str, str, bool]]] = {}


def sealed_fields(cls: type) -> list[tuple[str, str, bool]]:
    """(attribute, context, is_json) of the encrypted fields of a mapped class."""
    if cls not in _FIELDS:
        found = []
        table = getattr(cls, "__table__", None)
        if table is not None and getattr(cls, "__subject__", None):
            for column in table.columns:
                what = mark_of(column)
                if isinstance(what, Personal) and what.encrypted:
                    found.append((column.key, f"{table.name}.{column.key}", isinstance(column.type, JSON)))
        _FIELDS[cls] = found
    return _FIELDS[cls]


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
        subject = str(getattr(obj, type(obj).__subject__))
        plain: dict[str, Any] = {}
        for name, context, as_json in fields:
            value = getattr(obj, name)
            if value is None or is_sealed(value) or not (state.pending or state.attrs[name].history.has_changes()):
                continue
            text = json.dumps(value, ensure_ascii=False) if as_json else str(value)
            plain[name] = value
            setattr(obj, name, keystore_of(session).seal(subject, context, text))
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


def open_fields(obj: Any, session: Session | None) -> None:
    """Replace the sealed values of a loaded object by their plaintext (None once the key is destroyed)."""
    fields = sealed_fields(type(obj))
    if not fields or session is None:
        return
    store = session.info.get(KEYSTORE)
    subject = str(getattr(obj, type(obj).__subject__))
    for name, context, as_json in fields:
        value = obj.__dict__.get(name)
        if not is_sealed(value):
            continue
        if store is None:
            raise RuntimeError("this session has no key store: personal fields cannot be read")
        try:
            text = store.open(subject, context, value)
        except Shredded:
            set_committed_value(obj, name, None)
            continue
        set_committed_value(obj, name, json.loads(text) if as_json else text)


def sealed(cls: type) -> type:
    """Class decorator: rows of this model are opened as they load (and on refresh)."""
    event.listen(cls, "load", lambda obj, ctx: open_fields(obj, ctx.session))
    event.listen(cls, "refresh", lambda obj, ctx, _attrs: open_fields(obj, ctx.session))
    return cls
