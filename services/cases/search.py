"""Finding a case by name or birth date within what the caller may see; every search is logged for the audit.

Names and birth dates are sealed at rest (shared/sealing.py): no query can compare them, so the visible cases
are read in batches, opened in memory and matched here. Only what the caller may see is ever opened.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from shared.sealing import keystore_of, opened

from .models import AuditAction, AuditEntry, Case, CaseStatus, SearchEntry

SCAN_BATCH = 500  # visible cases opened at a time while searching
GERMAN_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")


def birth_date_in(term: str) -> date | None:
    """The term as a birth date (1990-05-17 or 17.05.1990), or None when it is a name."""
    try:
        if match := GERMAN_DATE.fullmatch(term):
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(term) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", term) else None
    except ValueError:
        return None


def matches(names: tuple[str | None, str | None, date | None], term: str) -> bool:
    """Does the term name the client (given name, family name, birth date): the birth date, or every word in
    either name (case-insensitively)?"""
    given, family, born_on = names
    born = birth_date_in(term)
    if born is not None:
        return born_on == born
    folded = ((given or "").casefold(), (family or "").casefold())
    return all(any(part in name for name in folded) for part in term.casefold().split())


def _names(session: Session, sealed: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The names and birth dates of these cases (id, given, family, born as stored), opened in memory."""
    store = keystore_of(session)
    store.preload([cid for cid, *_ in sealed])  # their keys in one query
    return {cid: (opened(store, Case, cid, "given_name", given), opened(store, Case, cid, "family_name", family),
                  opened(store, Case, cid, "birth_date", born)) for cid, given, family, born in sealed}


def caseload_query(*, tenants: Collection[str], manager: str | None, status: CaseStatus | None,
                   after: str | None, limit: int, where: Sequence[ColumnElement[bool]] = ()) -> SelectOfScalar[Case]:
    """The visible cases (these tenants', this manager's) after the cursor, oldest first, one more than a page."""
    query = select(Case).where(col(Case.tenant).in_(sorted(tenants)), col(Case.erased_on).is_(None), *where)
    if manager is not None:
        query = query.where(Case.manager == manager)
    if status is not None:
        query = query.where(Case.status == status)
    if after is not None:
        query = query.where(Case.id > after)
    return query.order_by(col(Case.id)).limit(limit + 1)


def search_cases(
    session: Session, *, term: str, tenants: Collection[str], manager: str | None, status: CaseStatus | None,
    after: str | None, limit: int, actor: str,
) -> tuple[list[Case], str | None]:
    """A page of the visible cases the term names, oldest first; the search and each case shown are audited."""
    hits: list[str] = []
    cursor = after
    while tenants and len(hits) <= limit:
        # Only the three sealed columns a search compares are read and opened; the page's files load after.
        query = caseload_query(tenants=tenants, manager=manager, status=status, after=cursor, limit=SCAN_BATCH - 1)
        rows = [tuple(r) for r in session.execute(query.with_only_columns(
            col(Case.id), col(Case.given_name), col(Case.family_name), col(Case.birth_date)))]
        names = _names(session, rows)
        hits += [cid for cid, *_ in rows if matches(names[cid], term)]
        if len(rows) < SCAN_BATCH:
            break
        cursor = rows[-1][0]
    shown = hits[:limit]
    loaded = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(shown))).all()} if shown else {}
    page = [loaded[cid] for cid in shown]
    # The term stays in the search log (audit only); each case shown points to it, naming no term.
    entry = SearchEntry(actor=actor[:255], tenants=",".join(sorted(tenants))[:255], term=term, found=len(page))
    session.add(entry)
    session.flush()
    for case in page:
        session.add(AuditEntry(actor=actor[:255], action=AuditAction.search, case_id=case.id, tenant=case.tenant,
                               detail=f"search {entry.id}"))
    return page, page[-1].id if len(hits) > limit else None
