"""docs/data-protection.md from the marks on every column (shared.privacy): `python -m shared.register OUT`."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, Column, Date, DateTime, String, Table, Text
from sqlmodel import SQLModel

from shared.bus import BUS_TABLES
from shared.privacy import DataClass, NotPersonal, Personal, Retention, mark_of
from shared.service import discover

TEXT_OR_DATE = (String, Text, Date, DateTime, JSON)

CLASSES = {
    DataClass.identity: "who the client is: names, birth date",
    DataClass.origin: "nationality and languages (reveal origin: handled as Art. 9 data)",
    DataClass.circumstances: "the client's situation: accommodation, eligibility, household",
    DataClass.case_content: "what was discussed and planned: notes, goals, steps, agreements",
    DataClass.staff: "user ids of managers and leads (employees' data)",
    DataClass.access_log: "who read or changed a file, when, and what",
    DataClass.pseudonym: "keyed pseudonyms at the state: personal only together with the node's key",
}
RULES = {
    Retention.case: "with its case: erased `LOTSE_RETENTION_CASE_YEARS` (default 3) years after the case was "
                    "closed by the daily retention run, or earlier by a lead's erasure on request (Art. 17)",
    Retention.access_log: "as long as the municipality's deletion concept keeps access logs; erased with its case",
    Retention.notification: "with the case it is about",
    Retention.staff: "as long as the user acts on the node's records; pseudonymous in what leaves the node",
    Retention.pseudonymous: "kept: aggregated and pseudonymous, no person identifiable at the state",
    Retention.funding: "with the grant's files, as long as the audit of the use of funds (Verwendungsnachweis) "
                       "requires under the municipality's records schedule",
    Retention.delivery: "`LOTSE_OUTBOX_RETENTION_S` after publishing (to republish what a failed bus lost), "
                        "then deleted",
}


@dataclass(frozen=True)
class Entry:
    """One column of one table at one level, with its mark (None: unmarked)."""

    service: str
    level: str
    table: str
    column: str
    mark: Personal | NotPersonal | None


def needs_mark(column: Column[object]) -> bool:
    """Text or dates, also behind a TypeDecorator (SQLModel's AutoString for `str` fields)."""
    kind = column.type
    return isinstance(kind, TEXT_OR_DATE) or isinstance(getattr(kind, "impl_instance", None), TEXT_OR_DATE)


def declared(table: Table) -> dict[str, Personal | NotPersonal]:
    """The model's class-level marks: `__personal__` {column: Personal(...)}, `__not_personal__` {column: why}."""
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        if mapper.local_table is table:
            marks: dict[str, Personal | NotPersonal] = {
                k: NotPersonal(why) for k, why in getattr(mapper.class_, "__not_personal__", {}).items()}
            marks.update(getattr(mapper.class_, "__personal__", {}))
            return marks
    return {}


def table_entries(service: str, level: str, table: Table) -> Iterator[Entry]:
    """The text and date columns of one table with their marks."""
    marks = declared(table)
    for column in table.columns:
        if needs_mark(column):
            yield Entry(service, level, table.name, column.key, mark_of(column) or marks.get(column.key))


def entries() -> Iterator[Entry]:
    """Every text or date column of every service's tables at both levels, and of the bus tables."""
    for name, spec in sorted(discover().items()):
        for level in ("municipal", "state"):
            tables: list[Table] = spec.at(level).tables
            for table in sorted(tables, key=lambda t: t.name):
                yield from table_entries(name, level, table)
    for table in BUS_TABLES:
        yield from table_entries("bus", "both", table)


def render() -> str:
    """The record of processing's data inventory and the retention rules, as Markdown."""
    found = list(entries())
    personal = [e for e in found if isinstance(e.mark, Personal)]
    lines = [
        "# Lotse — personal data register",
        "",
        "Generated from the marks on every column (`shared/privacy.py`) by `make privacy-docs`;",
        "a test fails when a table gains a text or date column that is neither marked personal nor",
        "declared non-personal, or when this file is not current. Do not edit it by hand.",
        "",
        "## Data classes",
        "",
        "| class | what | columns |",
        "|---|---|---|",
    ]
    for data_class, what in CLASSES.items():
        count = sum(1 for e in personal if isinstance(e.mark, Personal) and e.mark.data_class == data_class)
        lines.append(f"| `{data_class}` | {what} | {count} |")
    lines += ["", "## Retention rules", "", "| rule | how long |", "|---|---|"]
    lines += [f"| `{rule}` | {text} |" for rule, text in RULES.items()]
    lines += ["", "What Lotse enforces by itself: `delivery` (published events are deleted after the window),",
              "the append-only audit trails (no one changes or deletes an entry, except an erasure), and",
              "`case`, `access_log` and `notification` through erasure (`services/cases/erasure.py`): a lead",
              "erases a closed case on the client's request with a reason (`POST /api/cases/v1/cases/{id}/",
              "erase`, the case page's data-protection section), and the daily retention run erases every",
              "case closed more than `LOTSE_RETENTION_CASE_YEARS` years ago (its runs, with what was due and",
              "what it erased: `GET /api/cases/v1/erasure-runs`, the node page). Erasure removes the case file's",
              "names, birth date, nationality, languages and household birth years, the consultation notes,",
              "consents, information sheets, break-glass reasons, the search terms that found the case and the",
              "audit details; on `CaseErased` the plans service removes the plan's goal and step texts, dates",
              "and agreed versions' snapshots, the notifications service every notification, watch and reminder",
              "about the case. What the figures count stays, without the person (codes, process dates, minutes,",
              "who accessed the file when), so every figure is the same before and after. The state never held",
              "the person's data. SQLite zeroes what is overwritten (`secure_delete`) and the WAL is truncated",
              "after an erasure, so the database files no longer hold the data.",
              "",
              "Crypto-shredding: every column marked *encrypted* below is sealed at rest (AES-256-GCM,",
              "`shared/sealing.py`) with a key of its own subject: the case (case file, notes, consents,",
              "information sheets, break-glass reasons), the plan (its dates, goals and agreed versions), the goal",
              "(its steps), the search (its term). The keys live in the node's key store (`shared/keystore.py`,",
              "`LOTSE_KEYSTORE_URL`; by default `keys/subjects.db` in the data directory), never in a service",
              "database. An erasure destroys the keys of the case, its plan, goals and the searches that found it",
              "once its transaction committed (a key an interrupted erasure left is destroyed at the next start),",
              "so a backup of a service database taken before the erasure no longer reveals the person. Search",
              "by name or birth date opens the caller's visible cases in memory; no query compares a sealed",
              "column. Back the key store up apart from the service databases, and never restore a destroyed",
              "key: a restored key store would bring erased cases back in older backups.",
              "Not sealed: the household members (relation and birth year, no names), which the annual figures",
              "count after an erasure too; the erasure removes their birth years.",
              "",
              "Hand-over to another municipality (`services/cases/handover.py`): only with the client's `handover`",
              "consent. The case file, consultations, consents and plan travel signed by the sending node and sealed",
              "for the receiving node alone (libsodium sealed box), through the state, which relays them unread and",
              "cannot open them, nor can the sending node its copies; on the receiving node the parcel stays",
              "sealed at rest with a key of its own until its lead accepts or declines (the key is destroyed either",
              "way), and on the acceptance the sending node closes the case as `transferred` and erases it."]
    lines += ["", "## Personal data per service", "",
              "Encrypted: sealed at rest with the case's own key (crypto-shredding: erasing the case",
              "destroys the key, so older backups no longer reveal the person).", "",
              "| service | level | table | column | class | purpose | retention | encrypted |",
              "|---|---|---|---|---|---|---|---|"]
    for e in personal:
        m = e.mark
        assert isinstance(m, Personal)
        lines.append(f"| {e.service} | {e.level} | `{e.table}` | `{e.column}` | `{m.data_class}` | {m.purpose} "
                     f"| `{m.retention}` | {'yes' if m.encrypted else 'no'} |")
    lines += ["", "## Text and date columns without personal data", "",
              "| service | level | table | column | why not personal |", "|---|---|---|---|---|"]
    for e in found:
        if isinstance(e.mark, NotPersonal):
            lines.append(f"| {e.service} | {e.level} | `{e.table}` | `{e.column}` | {e.mark.reason} |")
    return "\n".join(lines) + "\n"


def unmarked() -> list[str]:
    """service.level.table.column of every text or date column without a mark."""
    return [f"{e.service}.{e.level}.{e.table}.{e.column}" for e in entries() if e.mark is None]


if __name__ == "__main__":
    missing = unmarked()
    if missing:
        sys.exit("unmarked columns (mark them personal(...) or not_personal(...)): " + ", ".join(missing))
    Path(sys.argv[1]).write_text(render())
