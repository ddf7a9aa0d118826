"""The register of personal data: every text or date column is marked, and docs/data-protection.md is current."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Field, SQLModel

from shared.privacy import DataClass, NotPersonal, Personal, Retention, not_personal, personal
from shared.register import render, table_entries, unmarked

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data-protection.md"


class Toy(SQLModel, table=True):
    """A table as a new feature might add it."""

    __tablename__ = "privacy_toy"
    __not_personal__ = {"kind": "a code"}

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    name: str = personal(DataClass.identity, "counselling")
    reference: str = not_personal("a document number of the municipality")
    remark: str  # forgotten: neither personal nor declared
    born: date | None = None  # forgotten too


def test_a_column_neither_marked_nor_declared_is_found() -> None:
    found = {e.column: e.mark for e in table_entries("toy", "municipal", Toy.__table__)}  # type: ignore[arg-type]
    assert found == {"kind": NotPersonal("a code"),
                     "name": Personal(DataClass.identity, "counselling", Retention.case),
                     "reference": NotPersonal("a document number of the municipality"),
                     "remark": None, "born": None}


def test_every_text_or_date_column_of_every_service_is_marked() -> None:
    assert unmarked() == [], "mark these with shared.privacy.personal(...) or declare them not personal"


def test_the_data_protection_document_is_current() -> None:
    assert DOCS.read_text() == render(), "run `make privacy-docs` and commit docs/data-protection.md"
