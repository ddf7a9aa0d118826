"""Languages: German first, English second; catalogues read from .po files at start (no .mo committed)."""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

CATALOGUES = Path(__file__).parent / "i18n"
LANGUAGES = ("de", "en")  # the first is the default
DEFAULT = LANGUAGES[0]


def N_(message: str) -> str:
    """Mark a message for the catalogue; it is translated where it is shown."""
    return message


def catalogue_files(lang: str) -> list[Path]:
    """A language's catalogue is every .po file in its folder (one per area of the app)."""
    return sorted((CATALOGUES / lang).glob("*.po"))


def read_catalogue(lang: str) -> Catalog:
    """The language's messages from all its files, merged into one catalogue."""
    merged = Catalog(locale=lang)
    for path in catalogue_files(lang):
        with path.open("rb") as source:
            for message in read_po(source, locale=lang):
                if message.id:
                    merged[message.id] = message
    return merged


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The language's catalogue; messages are written in English, so English needs none."""
    files = catalogue_files(lang)
    if lang not in LANGUAGES or not files:
        return gettext.NullTranslations()
    catalog = read_catalogue(lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def negotiate(accept_language: str | None) -> str:
    """The first of our languages the browser accepts, by its q-values; German when none fits."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT
