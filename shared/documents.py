"""Printable documents (PDF) rendered from HTML with WeasyPrint, never fetching from the network."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape


def render_pdf(html: str, *, base_url: Path | None = None) -> bytes:
    """Render an HTML document to PDF bytes; only local files and data: URLs are loaded."""
    from weasyprint import HTML  # imported late: pango loads only when a document is printed
    from weasyprint.urls import URLFetcher
    fetcher = URLFetcher(allowed_protocols={"file", "data"})  # no request leaves the node
    return HTML(string=html, base_url=str(base_url) if base_url else None,
                url_fetcher=fetcher).write_pdf()


def template_environment(directory: Path) -> Environment:
    """A Jinja2 environment for a service's document templates (HTML autoescaped)."""
    return Environment(loader=FileSystemLoader(directory), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)
