"""The funding exports' tables, on either level: positions with their grants, applications of a year, budget."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from sqlmodel import Session

from . import years
from .exports import Table
from .models import FundingYear

QUALIFICATION = {"vocational": "Fachschul-/Berufsausbildungsniveau", "academic": "Hochschulniveau"}
POSITION_STATUS = {"approved": "bewilligt, noch nicht besetzt", "occupied": "besetzt", "vacant": "unbesetzt",
                   "applied": "beantragt", "refused": "abgelehnt", "withdrawn": "Antrag zurückgezogen"}
APPLICATION_STATUS = {"submitted": "Entscheidung ausstehend", "approved": "bewilligt", "rejected": "abgelehnt",
                      "withdrawn": "zurückgezogen"}
KIND = {"extension_24_months": "Verlängerung um 24 Monate",
        "interruption_12_months": "Verlängerung um 12 Monate nach Unterbrechung", "new_position": "Neue Stelle"}


class PositionRow(years.PositionTerm, Protocol):
    tenant: str
    status_since: date | None


def position_tables(session: Session, positions: Sequence[tuple[str, str | None, PositionRow]],
                    model: years.YearTable = FundingYear) -> list[Table]:
    """Sheets `Stellen` and `Zuwendungen`: (position id, node or None, position) -> rows; grants as the API's."""
    with_node = any(node is not None for _, node, _ in positions)
    head = ["Stelle", *(["Knoten"] if with_node else []), "AGS"]
    rows, grant_rows = [], []
    for pid, node, p in positions:
        key = [pid, *([node] if with_node else []), p.tenant]
        rows.append([*key, p.fte, QUALIFICATION[p.qualification], p.starts_on, p.ends_on,
                     POSITION_STATUS[p.status], p.status_since])
        for g in years.grants_of(session, position=p, model=model):
            grant_rows.append([*key, g.year, g.months, g.rate_eur,
                               None if g.amount_eur is None else float(g.amount_eur)])
    return [
        Table("Stellen", [*head, "Vollzeitäquivalente", "Qualifikation", "Beginn", "Ende", "Status", "Status seit"],
              rows),
        Table("Zuwendungen", [*head, "Förderjahr", "Geförderte Monate", "Festbetrag je Vollzeitstelle (EUR)",
                              "Zuwendung (EUR)"], grant_rows)]


def of_year(application: Any, year: int) -> bool:
    """An application belongs to a year when it was made, decided or withdrawn in it."""
    return any(d is not None and d.year == year for d in (
        application.applied_on, application.decided_on, application.withdrawn_on))


def application_table(applications: Sequence[Any], year: int, *, state: bool) -> Table:
    """Sheet `Anträge`: the applications and decisions of the year, oldest first."""
    head = ["Antrag", "Stelle", *(["Knoten"] if state else []), "AGS", "Art", "Beantragt am", "Ende bisher",
            "Ende beantragt", "Unterbrechung von", "Unterbrechung bis", "Status", "Entschieden am",
            "Bewilligte Monate", "Begründung der Kommune", "Begründung des Landes", "Zurückgezogen am"]
    rows = [[a.id, a.position_id, *([a.node] if state else []), a.tenant, KIND[a.kind], a.applied_on,
             a.current_ends_on, a.requested_ends_on, a.interruption_from, a.interruption_to,
             APPLICATION_STATUS[a.status], a.decided_on, a.granted_months, a.justification, a.reason, a.withdrawn_on]
            for a in sorted(applications, key=lambda a: (a.applied_on, a.id)) if of_year(a, year)]
    return Table("Anträge", head, rows)
