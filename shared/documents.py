"""Printable documents (PDF) rendered from HTML with WeasyPrint, never fetching from the network."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

SHARED_TEMPLATES = Path(__file__).parent / "templates"  # what documents of several services include


def render_pdf(html: str, *, base_url: Path | None = None) -> bytes:
    """Render an HTML document to PDF bytes; only local files and data: URLs are loaded."""
    from weasyprint import HTML  # imported late: pango loads only when a document is printed
    from weasyprint.urls import URLFetcher
    fetcher = URLFetcher(allowed_protocols={"file", "data"})  # no request leaves the node
    return HTML(string=html, base_url=str(base_url) if base_url else None,
                url_fetcher=fetcher).write_pdf()


def template_environment(directory: Path) -> Environment:
    """A Jinja2 environment for a service's document templates (HTML autoescaped)."""
    return Environment(loader=ChoiceLoader([FileSystemLoader(directory), FileSystemLoader(SHARED_TEMPLATES)]),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def german_date(value: date | datetime | None) -> str:
    """31.12.2026, or 31.12.2026, 14:05 UTC for a moment (the access exports' dates)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y, %H:%M UTC")
    return value.strftime("%d.%m.%Y")


def in_german(table: dict[str, dict[str, str]], group: str, code: Any) -> str:
    """A code in German from a document's table; an unknown one as it is."""
    return table[group].get(str(code), str(code)) if code is not None else ""


def print_export(directory: Path, answer: Any, german: Callable[[str, Any], str]) -> bytes:
    """An access export (`access_export.html` of a service's templates) as a readable German PDF."""
    html = template_environment(directory).get_template("access_export.html").render(
        x=answer, german=german, day=german_date)
    return render_pdf(html, base_url=directory)
