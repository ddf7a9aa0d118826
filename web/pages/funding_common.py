"""What the funding pages share: euro amounts as the language writes them."""

from __future__ import annotations


def money(value: float | int | None, lang: str) -> str:
    """30000.5 as '30.000,50 €' in German, '€30,000.50' in English; None as an empty string."""
    if value is None:
        return ""
    text = f"{value:,.2f}"
    if lang == "de":
        return text.replace(",", "_").replace(".", ",").replace("_", ".") + " €"
    return "€" + text


EXPORTS = ("positions", "applications", "allocation")  # the API's /exports/{what}, on either level
FORMATS = ("xlsx", "csv")
