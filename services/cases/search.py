"""Finding a case by name or birth date within what the caller may see; every search is logged for the audit."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from .models import AuditAction, AuditEntry, Case, CaseStatus, SearchEntry

GERMAN_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")


def birth_date_in(term: str) -> date | None:
    """The term as a birth date (1990-05-17 or 17.05.1990), or None when it is a name."""
    try:
        if match := GERMAN_DATE.fullmatch(term):
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(term) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", term) else None
    except ValueError:
        return None


def _like(part: str) -> str:
    return "%" + part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(term: str) -> list[ColumnElement[bool]]:
    """Conditions a case meets when the term names it: its birth date, or every word in either name."""
    born = birth_date_in(term)
    if born is not None:
        return [col(Case.birth_date) == born]
    return [or_(col(Case.given_name).ilike(_like(p), escape="\\"), col(Case.family_name).ilike(_like(p), escape="\\"))
            for p in term.split()]


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
    found: list[Case] = []
    if tenants:
        found = list(session.exec(caseload_query(tenants=tenants, manager=manager, status=status, after=after,
                                                 limit=limit, where=matching(term))).all())
    page = found[:limit]
    # The term stays in the search log (audit only); each case shown points to it, naming no term.
    entry = SearchEntry(actor=actor[:255], tenants=",".join(sorted(tenants))[:255], term=term, found=len(page))
    session.add(entry)
    session.flush()
    for case in page:
        session.add(AuditEntry(actor=actor[:255], action=AuditAction.search, case_id=case.id, tenant=case.tenant,
                               detail=f"search {entry.id}"))
    return page, page[-1].id if len(found) > limit else None
