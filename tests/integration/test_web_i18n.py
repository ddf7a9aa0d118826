"""The web app's languages: every message in the German catalogue, language negotiation, dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir

from tests.integration.test_web_pages import open_case, sign_in
from tests.nodes import NodeHandle
from web.forms import parse_date
from web.i18n import negotiate, read_catalogue, translations
from web.render import format_date, format_datetime

WEB = Path(__file__).resolve().parents[2] / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}


def source_messages() -> set[str]:
    """Every message id the web app's code and templates use (a plural by its singular)."""
    found = extract_from_dir(str(WEB), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_every_message_has_a_german_translation_and_none_is_stale() -> None:
    catalogue = read_catalogue("de")
    translated = {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalogue if m.id}
    used = source_messages()
    assert len(used) > 100
    assert sorted(used - translated.keys()) == [], "messages missing from web/i18n/de/*.po"
    assert sorted(translated.keys() - used) == [], "messages in web/i18n/de/*.po that nothing uses"
    empty = [key for key, text in translated.items() if not (text if isinstance(text, str) else all(text or ()))]
    assert empty == []
    assert not [m.id for m in catalogue if m.fuzzy and m.id]


def test_the_catalogue_is_built_in_memory_with_plurals() -> None:
    german = translations("de")
    assert german.gettext("Inbox") == "Posteingang"
    assert german.ngettext("%(num)d case on this page", "%(num)d cases on this page", 2) % {"num": 2} == (
        "2 Fälle auf dieser Seite")
    assert translations("en").gettext("Inbox") == "Inbox"


def test_german_unless_the_browser_prefers_english() -> None:
    assert negotiate(None) == "de"
    assert negotiate("") == "de"
    assert negotiate("fr-FR,fr;q=0.9") == "de"
    assert negotiate("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert negotiate("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert negotiate("fr, en;q=0.5, de;q=0.4") == "en"
    assert negotiate("en;q=0, de;q=0.1") == "de"
    assert negotiate("en;q=bogus") == "de"


def test_dates_read_31_12_2026_in_both_languages() -> None:
    assert format_date(date(2026, 12, 31)) == "31.12.2026"
    assert format_date("2026-01-05") == "05.01.2026"
    assert format_date(None) == ""
    # The API's times are UTC; the page shows them in the programme's time zone.
    assert format_datetime(datetime(2026, 12, 31, 22, 30, tzinfo=UTC)) in (
        "31.12.2026, 23:30", "31.12.2026, 22:30")  # Europe/Berlin, or UTC where tzdata is missing
    assert parse_date("31.12.2026") == date(2026, 12, 31)
    assert parse_date("1.2.2026") == date(2026, 2, 1)
    assert parse_date("2026-12-31") == date(2026, 12, 31)
    assert parse_date("31.02.2026") is None
    assert parse_date("12/31/2026") is None


def test_german_first_english_by_browser_or_switch_and_dates_as_31_12_2026(
        start_node: Callable[..., NodeHandle]) -> None:
    node = start_node("cases")
    csrf = sign_in(node.client, "manager-stuttgart-1")
    case_id = open_case(node.client, csrf, birth_date="1990-03-27", accommodation_since="1.9.2025")
    german = node.client.get(f"/cases/{case_id}")
    assert '<html lang="de">' in german.text and "Persönliche Daten" in german.text
    assert "27.03.1990" in german.text and "01.09.2025" in german.text
    english = node.client.get(f"/cases/{case_id}", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert '<html lang="en">' in english.text and "Personal data" in english.text
    assert "27.03.1990" in english.text and "01.09.2025" in english.text
    switched = node.client.post("/language", data={"lang": "en", "next": f"/cases/{case_id}", "csrf_token": csrf},
                                follow_redirects=False)
    assert switched.headers["location"] == f"/cases/{case_id}"
    assert "Max-Age=31536000" in switched.headers["set-cookie"]
    chosen = node.client.get(f"/cases/{case_id}", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in chosen.text
    away = node.client.post("/language", data={"lang": "de", "next": "https://evil.example/", "csrf_token": csrf},
                            follow_redirects=False)
    assert away.headers["location"] == "/"
