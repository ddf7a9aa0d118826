"""Exports an auditor or a ministry asks for: tables as XLSX (one sheet per table) or CSV, German headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from shared.errors import InvalidInput

Cell = str | int | float | date | None


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {ExportFormat.csv: "text/csv; charset=utf-8",
               ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Table:
    """One table of an export: a sheet of the workbook, or the whole CSV file."""

    sheet: str  # at most 31 characters (Excel's limit)
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """A workbook with one sheet per table: German headers in bold, numbers as numbers, dates as dates."""
    from openpyxl import Workbook  # imported late: only an export needs it
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for table in tables:
        sheet = book.create_sheet(table.sheet[:31])
        sheet.append(list(table.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(list(row))
        for column, cell in zip(range(1, len(table.columns) + 1), sheet[1], strict=True):
            if any(isinstance(r[column - 1], date) for r in table.rows):
                for (value,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                    value.number_format = "DD.MM.YYYY"
            width = max([len(str(cell.value))] + [len(str(r[column - 1] or "")) for r in table.rows])
            sheet.column_dimensions[cell.column_letter].width = min(60, width + 2)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_cell(value: Cell) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def to_csv(table: Table) -> str:
    """One table as CSV (comma, dot decimals, ISO dates): what a program reads without guessing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows([_csv_cell(v) for v in row] for row in table.rows)
    return out.getvalue()


def render(tables: Sequence[Table], fmt: ExportFormat, sheet: str | None = None) -> bytes:
    """The export's bytes; a CSV holds one table: the named sheet, or the first."""
    if fmt == ExportFormat.xlsx:
        return to_xlsx(tables)
    if sheet is None:
        return to_csv(tables[0]).encode()
    chosen = next((t for t in tables if t.sheet == sheet), None)
    if chosen is None:
        raise InvalidInput("sheet", f"one of: {', '.join(t.sheet for t in tables)}")
    return to_csv(chosen).encode()
