"""What the operators' tables share: sorting by a column's link, ages as people read them, numbers."""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class Column:
    """A sortable column: `key` is the row's field and the `sort` query's value."""

    key: str
    label: str  # a catalogue message
    descending: bool = False  # counts and ages biggest first; names A to Z


def _order(value: Any) -> tuple[int, Any]:
    # Unknown values (null) go last in either direction.
    return (1, 0) if value is None else (0, value.casefold() if isinstance(value, str) else value)


def sorted_rows(rows: Sequence[dict[str, Any]], column: Column, then: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rows by the column (nulls last), ties by the `then` fields A to Z."""
    out = sorted(rows, key=lambda r: tuple(_order(r.get(k)) for k in then))
    known = [r for r in out if r.get(column.key) is not None]
    unknown = [r for r in out if r.get(column.key) is None]
    return sorted(known, key=lambda r: _order(r[column.key]), reverse=column.descending) + unknown


def chosen(columns: Sequence[Column], sort: str) -> Column:
    """The column asked for, else the first."""
    return next((c for c in columns if c.key == sort), columns[0])


def sort_headers(path: str, query: dict[str, str], current: Column, columns: Sequence[Column],
                 gettext: Any) -> dict[str, dict[str, Any]]:
    """Per column: its label, the link that sorts by it, and aria-sort for the current one."""
    out = {}
    for c in columns:
        params = {**{k: v for k, v in query.items() if v}, "sort": c.key}
        out[c.key] = {"key": c.key, "label": gettext(c.label), "url": f"{path}?{urlencode(params)}",
                      "aria_sort": ("descending" if c.descending else "ascending") if c is current else None}
    return out


def age_text(seconds: float | None, translations: gettext_module.NullTranslations) -> str:
    """How long ago, as people say it: 12 seconds, 3 minutes, 2 hours, 4 days."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 120:
        return translations.ngettext("%(num)d second ago", "%(num)d seconds ago", s) % {"num": s}
    if s < 7200:
        return translations.ngettext("%(num)d minute ago", "%(num)d minutes ago", s // 60) % {"num": s // 60}
    if s < 172800:
        return translations.ngettext("%(num)d hour ago", "%(num)d hours ago", s // 3600) % {"num": s // 3600}
    return translations.ngettext("%(num)d day ago", "%(num)d days ago", s // 86400) % {"num": s // 86400}


def decimal(value: float | None, lang: str) -> str:
    """0.5 as the language writes it (0,5 in German); whole numbers without decimals."""
    if value is None:
        return ""
    shown = f"{value:.3f}".rstrip("0").rstrip(".")
    return shown.replace(".", ",") if lang == "de" else shown
