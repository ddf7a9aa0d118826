"""Unit-layer fixtures: a service's tables in a private SQLite file, no server of any kind."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Table
from sqlmodel import Session, SQLModel

from shared.bus import BUS_TABLES
from shared.db import Database
from shared.keystore import KeyStore


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Callable[[Sequence[Table]], Database]]:
    """Make a database holding the given tables (and the bus tables), as a service's own would."""
    made: list[Database] = []
    numbers = itertools.count()
    keys: list[KeyStore] = []

    def make(tables: Sequence[Table]) -> Database:
        db = Database(f"sqlite:///{tmp_path / f'unit-{next(numbers)}.db'}", [*tables, *BUS_TABLES])
        SQLModel.metadata.create_all(db.engine, tables=[*tables, *BUS_TABLES])
        if not keys:  # the node's one key store, apart from the service databases
            keys.append(KeyStore(f"sqlite:///{tmp_path / 'keys' / 'subjects.db'}"))
        db.keystore = keys[0]
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()
    for store in keys:
        store.dispose()


@pytest.fixture
def db(request: pytest.FixtureRequest, database: Callable[[Sequence[Table]], Database]) -> Database:
    """A database holding the tables the test module names as its TABLES."""
    return database(request.module.TABLES)


@contextmanager
def unit(db: Database) -> Iterator[Session]:
    """One unit of work, as a request or a consumed event has: committed once at the end."""
    with db.session() as s:
        yield s
        s.commit()
