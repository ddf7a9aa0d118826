"""Exports: one sheet per table, German headers, numbers as numbers, dates as dates; CSV of one table."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from services.funding.exports import ExportFormat, Table, render
from shared.errors import InvalidInput

TABLES = [Table("Stellen", ["Stelle", "Vollzeitäquivalente", "Beginn"], [["p1", 0.5, date(2026, 1, 1)],
                                                                           ["p2", 1, None]]),
          Table("Zuwendungen", ["Stelle", "Zuwendung (EUR)"], [["p1", 25500.5]])]


def test_xlsx_has_a_sheet_per_table_with_typed_cells() -> None:
    book = load_workbook(io.BytesIO(render(TABLES, ExportFormat.xlsx)))
    assert book.sheetnames == ["Stellen", "Zuwendungen"]
    rows = list(book["Stellen"].iter_rows(values_only=True))
    assert rows[0] == ("Stelle", "Vollzeitäquivalente", "Beginn")
    assert rows[1][1] == 0.5 and rows[1][2].date() == date(2026, 1, 1) and rows[2][1] == 1
    assert book["Stellen"]["A1"].font.bold and book["Stellen"]["C2"].number_format == "DD.MM.YYYY"
    assert list(book["Zuwendungen"].iter_rows(values_only=True))[1] == ("p1", 25500.5)


def test_csv_holds_one_table_the_first_or_the_named_one() -> None:
    first = list(csv.reader(io.StringIO(render(TABLES, ExportFormat.csv).decode())))
    assert first == [["Stelle", "Vollzeitäquivalente", "Beginn"], ["p1", "0.5", "2026-01-01"], ["p2", "1", ""]]
    named = list(csv.reader(io.StringIO(render(TABLES, ExportFormat.csv, "Zuwendungen").decode())))
    assert named == [["Stelle", "Zuwendung (EUR)"], ["p1", "25500.5"]]
    with pytest.raises(InvalidInput) as err:
        render(TABLES, ExportFormat.csv, "Kreise")
    assert err.value.field == "sheet" and "Stellen, Zuwendungen" in err.value.reason
