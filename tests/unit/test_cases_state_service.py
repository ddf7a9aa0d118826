"""The cases domain at state level, without a node: the pseudonymous view and its small-cell suppression."""

from __future__ import annotations

import hashlib
from datetime import date
from itertools import count
from typing import Any

import pytest
from sqlalchemy import Enum, String
from sqlmodel import func, select

from services.cases.state import service
from services.cases.state.models import TABLES, StateCase, StateConsultation, StateConsultationTopic
from services.cases.statistics import MIN_CELL, Cell, masked, publish, small
from shared.db import Database
from shared.errors import InvalidInput
from shared.events.codes import CloseReason, Mode, Topic
from tests.unit.conftest import unit

STUTTGART, HEIDELBERG, MANNHEIM = "08111000", "08221000", "08222000"
EVENT_IDS = (f"01J{n:023d}" for n in count())


def pseudonym(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def held(db: Database, client: str, held_on: str, mode: str = "office",
         topics: tuple[str, ...] = ("work",), minutes: int = 30, tenant: str = STUTTGART,
         node: str = "node-a", times: int = 1) -> None:
    for _ in range(times):
        with unit(db) as s:
            assert service.note_consultation(
                s, event_id=next(EVENT_IDS), node=node, tenant=tenant, client=pseudonym(client),
                held_on=date.fromisoformat(held_on), mode=Mode(mode),
                topics=[Topic(t) for t in topics], duration_minutes=minutes) is True


def stats(db: Database, *, tenant: str | None = None, from_: str | None = None,
          to: str | None = None) -> dict[str, Any]:
    with db.session() as s:
        answer = service.consultation_statistics(
            s, tenant=tenant, from_=date.fromisoformat(from_) if from_ else None,
            to=date.fromisoformat(to) if to else None)
    return answer.model_dump(mode="json", by_alias=True)


def shown(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The non-zero rows of one breakdown: (consultations, minutes), or 'x' when withheld."""
    return {r[name]: "x" if r["suppressed"] else (r["consultations"], r["minutes"])
            for r in rows if r["suppressed"] or r["consultations"]}


# -- the statewide rows: one per event, pseudonyms only ---------------------------------------
def test_a_consultation_is_kept_once_per_event(db: Database) -> None:
    note: dict[str, Any] = {
        "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "node": "node-a", "tenant": STUTTGART,
        "client": pseudonym("c1"), "held_on": date(2024, 2, 29), "mode": Mode.office,
        "topics": [Topic.work, Topic.work, Topic.language], "duration_minutes": 30}
    with unit(db) as s:
        assert service.note_consultation(s, **note) is True
    with unit(db) as s:  # a redelivery past the bus's inbox: the event id keeps it at one row
        assert service.note_consultation(s, **note) is False
    with db.session() as s:
        [row] = s.exec(select(StateConsultation)).all()
        topics = s.exec(select(StateConsultationTopic.topic)).all()
    assert (row.node, row.tenant, row.client, row.month, row.mode, row.duration_minutes) == (
        "node-a", STUTTGART, pseudonym("c1"), "2024-02", "office", 30)
    assert sorted(topics) == ["language", "work"]  # a topic named twice counts once


def test_a_raw_case_id_is_refused_and_nothing_is_kept(db: Database) -> None:
    with db.session() as s:
        with pytest.raises(service.NotPseudonymous, match="not a 64-hex pseudonym"):
            service.note_consultation(
                s, event_id="01JABCDEFGHJKMNPQRSTVWXYZ1", node="node-a", tenant=STUTTGART,
                client="01JABCDEFGHJKMNPQRSTVWXYZ2", held_on=date(2024, 3, 1), mode=Mode.office,
                topics=[Topic.work], duration_minutes=30)
        with pytest.raises(service.NotPseudonymous):
            service.note_case_opened(s, node="node-a", tenant=STUTTGART, client="c1",
                                     opened_on=date(2024, 1, 2))
        assert s.exec(select(func.count()).select_from(StateConsultation)).one() == 0


# -- open cases: opened and not closed, in whichever order the events arrive -----------------
def opened(db: Database, client: str, tenant: str = STUTTGART, node: str = "node-a") -> None:
    with unit(db) as s:
        service.note_case_opened(s, node=node, tenant=tenant, client=pseudonym(client),
                                 opened_on=date(2024, 1, 2))


def closed(db: Database, client: str, tenant: str = STUTTGART, node: str = "node-a") -> None:
    with unit(db) as s:
        service.note_case_closed(s, node=node, tenant=tenant, client=pseudonym(client),
                                 closed_on=date(2024, 6, 30), reason=CloseReason.independent)


def test_open_cases_whatever_order_the_events_arrive_in(db: Database) -> None:
    for client in ("s1", "s2", "s3", "s4", "s5", "s6"):
        opened(db, client)
    closed(db, "s6")
    closed(db, "late")  # its CaseOpened arrives after the closure: it stays closed
    opened(db, "late")
    opened(db, "m1", MANNHEIM, "node-b")
    opened(db, "s1", STUTTGART, "node-b")  # another node's pseudonym: another client
    with db.session() as s:
        late = s.get(StateCase, ("node-a", pseudonym("late")))
        assert late is not None and (late.opened_on, late.closed_on, late.close_reason) == (
            date(2024, 1, 2), date(2024, 6, 30), "independent")
        assert service.open_cases(s, tenant=None) == [(STUTTGART, 6), (MANNHEIM, 1)]
        assert service.open_cases(s, tenant=HEIDELBERG) == [(HEIDELBERG, 0)]
    assert stats(db)["open_cases"] == [
        {"tenant": STUTTGART, "open_cases": 6, "suppressed": False},
        {"tenant": MANNHEIM, "open_cases": None, "suppressed": True}]


# -- statistics: counts and small-cell suppression --------------------------------------------
def test_every_topic_and_mode_is_listed_zeros_included(db: Database) -> None:
    answer = stats(db)
    assert [r["topic"] for r in answer["by_topic"]] == [t.value for t in Topic]
    assert [r["mode"] for r in answer["by_mode"]] == [m.value for m in Mode]
    assert answer["by_month"] == [] and answer["min_cell"] == MIN_CELL == 5
    assert (answer["consultations"], answer["minutes"], answer["totals_suppressed"]) == (0, 0, False)
    assert (answer["distinct_clients"], answer["distinct_clients_suppressed"]) == (0, False)


def test_small_cells_are_withheld_and_their_complements_too(db: Database) -> None:
    for client in ("s1", "s2", "s3", "s4", "s5", "s6"):
        held(db, client, "2024-03-15", "office", ("language", "work"), 30)
    for client in ("s1", "s2", "s3", "s4", "s5"):
        held(db, client, "2024-04-01", "outreach", ("housing",), 60)
    held(db, "s1", "2024-04-30", "phone", ("work",), 15, times=2)
    answer = stats(db)
    assert (answer["consultations"], answer["minutes"], answer["distinct_clients"]) == (13, 510, 6)
    # a consultation with two topics counts, with all its minutes, in both; nothing adds up to
    # the total there, so a small topic is withheld alone
    assert shown(answer["by_topic"], "topic") == {"language": (6, 180), "work": (8, 210),
                                                   "housing": (5, 300)}
    # phone (2) is the only small mode: outreach, the next smallest shown, is withheld with it
    assert shown(answer["by_mode"], "mode") == {"office": (6, 180), "outreach": "x", "phone": "x"}
    assert shown(answer["by_month"], "month") == {"2024-03": (6, 180), "2024-04": (7, 330)}
    video = next(r for r in answer["by_mode"] if r["mode"] == "video")
    assert video == {"mode": "video", "consultations": 0, "minutes": 0, "suppressed": False}


def test_small_totals_and_client_counts_are_withheld(db: Database) -> None:
    held(db, "h1", "2024-06-03", "phone", ("benefits",), 10, tenant=HEIDELBERG, times=3)
    held(db, "h2", "2024-04-10", "video", ("language",), 45, tenant=HEIDELBERG, times=3)
    answer = stats(db, tenant=HEIDELBERG)
    assert (answer["consultations"], answer["minutes"], answer["totals_suppressed"]) == (6, 165, False)
    assert (answer["distinct_clients"], answer["distinct_clients_suppressed"]) == (None, True)
    june = stats(db, tenant=HEIDELBERG, from_="2024-06-01")
    assert (june["consultations"], june["minutes"], june["totals_suppressed"]) == (None, None, True)
    assert shown(june["by_mode"], "mode") == {"phone": "x"}  # the whole (withheld) total


def test_a_client_is_a_node_and_pseudonym_pair(db: Database) -> None:
    for node in ("node-a", "node-b", "node-c", "node-d", "node-e"):
        held(db, "same-local-id", "2024-05-02", node=node)
    assert stats(db)["distinct_clients"] == 5  # each node has its own key: five people


def test_the_date_window_includes_both_ends_and_the_tenant_narrows(db: Database) -> None:
    held(db, "s1", "2024-03-31", times=5)
    held(db, "s1", "2024-04-01", times=5)
    held(db, "s1", "2024-04-30", times=5)
    held(db, "s1", "2024-05-01", times=5)
    held(db, "m1", "2024-04-15", tenant=MANNHEIM, node="node-b", times=5)
    april = stats(db, from_="2024-04-01", to="2024-04-30")
    assert (april["from"], april["to"], april["consultations"]) == ("2024-04-01", "2024-04-30", 15)
    assert shown(april["by_month"], "month") == {"2024-04": (15, 450)}
    assert stats(db, tenant=STUTTGART, from_="2024-04-01", to="2024-04-30")["consultations"] == 10
    assert stats(db, tenant=STUTTGART, to="2024-03-31")["consultations"] == 5
    assert stats(db, tenant=HEIDELBERG)["consultations"] == 0


def test_a_window_ending_before_it_starts_is_refused_naming_to(db: Database) -> None:
    with pytest.raises(InvalidInput) as refused:
        stats(db, from_="2024-05-01", to="2024-04-30")
    assert (refused.value.field, refused.value.reason) == ("to", "must not be before from")
    assert stats(db, from_="2024-05-01", to="2024-05-01")["consultations"] == 0


# -- the suppression rules themselves ---------------------------------------------------------
def test_small_means_one_to_four() -> None:
    assert [small(n) for n in (0, 1, 4, 5, 100)] == [False, True, True, False, False]


def test_masking_rules() -> None:
    cells = [Cell("a", 2, 20), Cell("b", 7, 70), Cell("c", 5, 50), Cell("d", 0, 0)]
    hidden = lambda result: [c.key for c, h in result if h]  # noqa: E731
    assert hidden(masked(cells, splits_total=False)) == ["a"]
    # one small cell of a breakdown adding up to the total: the smallest shown non-zero goes too
    assert hidden(masked(cells, splits_total=True)) == ["a", "c"]
    # two small cells already cover each other
    assert hidden(masked([Cell("a", 2, 1), Cell("b", 3, 1), Cell("c", 9, 1)], splits_total=True)) == [
        "a", "b"]
    # a single small cell and nothing else shown: it is the whole (withheld) total
    assert hidden(masked([Cell("a", 3, 1), Cell("b", 0, 0)], splits_total=True)) == ["a"]


def test_publish_withholds_from_exact_counts() -> None:
    answer = publish(tenant=None, from_=None, to=None, by_topic=[Cell("work", 4, 40)],
                     by_mode=[Cell("office", 4, 40)], by_month=[Cell("2024-01", 4, 40)],
                     distinct_clients=3, open_cases=[(STUTTGART, 4), (MANNHEIM, 0), (HEIDELBERG, 9)])
    assert (answer.consultations, answer.minutes, answer.totals_suppressed) == (None, None, True)
    assert (answer.distinct_clients, answer.distinct_clients_suppressed) == (None, True)
    assert [(o.tenant, o.open_cases, o.suppressed) for o in answer.open_cases] == [
        (STUTTGART, None, True), (MANNHEIM, 0, False), (HEIDELBERG, 9, False)]


# -- codes are enums, stored as plain strings -------------------------------------------------
def test_codes_are_string_columns() -> None:
    for table, column in [("cases_state_consultation", "mode"),
                          ("cases_state_consultation_topic", "topic"),
                          ("cases_state_case", "close_reason")]:
        kind = next(t for t in TABLES if t.name == table).c[column].type
        assert isinstance(kind, String) and not isinstance(kind, Enum), (table, column)
