"""The cases service at state level: the statewide consultation table and consultation statistics."""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func
from sqlmodel import select

from services.cases.state import service
from services.cases.state.models import TABLES, StateCase, StateConsultation, StateConsultationTopic
from services.cases.statistics import Cell, masked
from shared.db import Database
from shared.events import DEAD_LETTERS, STREAMS, Contract, Envelope
from shared.events.cases import CaseClosed, CaseOpened, ConsultationRecorded, CounsellingExtended
from shared.events.codes import Mode, Topic
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually

API = "/api/cases/v1"
STATS = f"{API}/statistics/consultations"
TOPICS, MODES = list(Topic), list(Mode)
HOSTS = {STUTTGART: "node-a", HEIDELBERG: "node-a", MANNHEIM: "node-b"}


def pseudonym(value: str) -> str:
    """Stands in for a municipal node's HMAC key."""
    return hashlib.sha256(value.encode()).hexdigest()


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("cases", level="state")  # only this service: the test stands on its own


def inbound(redis: Redis, payload: Contract, tenant: str) -> Envelope:
    """An event as the federation link republishes it on the state bus: its state projection."""
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant,
                   node=HOSTS[tenant], scope=payload.scope,
                   aggregate_id=pseudonym(payload.case_id),  # type: ignore[attr-defined]
                   payload=payload.state_projection(pseudonym))
    redis.xadd(STREAMS["cases"], {"event": env.to_json()})
    return env


@dataclass(frozen=True)
class Held:
    """A consultation as the municipal node's own database holds it (the recount's source)."""

    tenant: str
    case: str
    held_on: date
    mode: str
    topics: tuple[str, ...]
    minutes: int

    def event(self) -> ConsultationRecorded:
        return ConsultationRecorded(
            case_id=self.case, consultation_id=f"local-{self.case}", manager="m1",
            held_on=self.held_on, duration_minutes=self.minutes, mode=self.mode,  # type: ignore[arg-type]
            topics=list(self.topics))  # type: ignore[arg-type]


def send(redis: Redis, held: list[Held]) -> list[Envelope]:
    return [inbound(redis, h.event(), h.tenant) for h in held]


def opened(redis: Redis, tenant: str, case: str) -> None:
    inbound(redis, CaseOpened(case_id=case, manager="m1", opened_on=date(2024, 1, 2),
                              household_size=3), tenant)


def closed(redis: Redis, tenant: str, case: str) -> None:
    inbound(redis, CaseClosed(case_id=case, manager="m1", closed_on=date(2024, 6, 30),
                              reason="independent"), tenant)


def settled(redis: Redis) -> bool:
    """The cases group has read and acknowledged everything on the cases stream."""
    groups = redis.xinfo_groups(STREAMS["cases"])
    group = next((g for g in groups if g["name"] == b"cases"), None)
    return group is not None and group["lag"] == 0 and group["pending"] == 0


def officer(state: NodeHandle, role: str = "state_operator") -> dict[str, str]:
    return state.headers(f"{role}-1", role)


def stats(state: NodeHandle, **query: str) -> dict[str, Any]:
    params = {"from" if k == "from_" else k: v for k, v in query.items()}
    r = state.client.get(STATS, params=params, headers=officer(state))
    assert r.status_code == 200, r.text
    return dict(r.json())


def shown(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's non-zero figures: (consultations, minutes), or 'x' when withheld."""
    def value(row: dict[str, Any]) -> Any:
        assert row["suppressed"] == (row["consultations"] is None) == (row["minutes"] is None)
        return "x" if row["suppressed"] else (row["consultations"], row["minutes"])

    def rows(name: str) -> dict[str, Any]:
        return {r[name]: value(r) for r in answer[f"by_{name}"] if r["suppressed"] or r["consultations"]}

    return {
        "total": "x" if answer["totals_suppressed"] else (answer["consultations"], answer["minutes"]),
        "clients": "x" if answer["distinct_clients_suppressed"] else answer["distinct_clients"],
        "by_topic": rows("topic"), "by_mode": rows("mode"), "by_month": rows("month"),
    }


def day(text: str) -> date:
    return date.fromisoformat(text)


def series(tenant: str, cases: list[str], held_on: str, mode: str, topics: tuple[str, ...],
           minutes: int) -> list[Held]:
    return [Held(tenant, c, day(held_on), mode, topics, minutes) for c in cases]


S = [f"s{i}" for i in range(1, 8)]
H = ["h1", "h2", "h3"]
M = [f"m{i}" for i in range(1, 7)]
# Stuttgart and Heidelberg on node-a, Mannheim on node-b.
DATASET = [
    *series(STUTTGART, S[:6], "2024-03-15", "office", ("language", "work"), 30),
    *series(STUTTGART, S[:5], "2024-04-01", "outreach", ("housing",), 60),
    *series(STUTTGART, S[:2], "2024-04-30", "phone", ("work",), 15),
    *series(HEIDELBERG, H, "2024-04-10", "video", ("language",), 45),
    *series(HEIDELBERG, ["h1"] * 3, "2024-06-03", "phone", ("benefits",), 10),
    *series(MANNHEIM, M[:5], "2024-05-02", "office", ("language",), 20),
    *series(MANNHEIM, M[:4], "2024-05-31", "group", ("everyday_life", "language"), 90),
]


# -- statistics over HTTP ---------------------------------------------------------------------
def test_consultation_statistics_from_two_nodes(state: NodeHandle, redis: Redis) -> None:
    envs = send(redis, DATASET)
    for tenant, cases in ((STUTTGART, S), (HEIDELBERG, H), (MANNHEIM, M[:5])):
        for case in cases:
            opened(redis, tenant, case)
    closed(redis, STUTTGART, "s7")
    for case in H:
        closed(redis, HEIDELBERG, case)
    closed(redis, MANNHEIM, "m5")
    closed(redis, MANNHEIM, "m6")  # its CaseOpened arrives after the closure: it stays closed
    opened(redis, MANNHEIM, "m6")
    # a duplicate delivery (the link resent an entry): the same envelope counts once
    redis.xadd(STREAMS["cases"], {"event": envs[0].to_json()})
    eventually(lambda: settled(redis))

    statewide = stats(state)
    assert (statewide["tenant"], statewide["from"], statewide["to"], statewide["min_cell"]) == (
        None, None, None, 5)
    assert [r["topic"] for r in statewide["by_topic"]] == list(TOPICS)  # every code, zeros too
    assert [r["mode"] for r in statewide["by_mode"]] == list(MODES)
    assert shown(statewide) == {
        "total": (28, 1135), "clients": 14,
        # language 6+3+5+4, work 6+2: a consultation with two topics counts in both
        "by_topic": {"language": (18, 775), "work": (8, 210), "housing": (5, 300),
                     "benefits": "x", "everyday_life": "x"},
        "by_mode": {"office": (11, 280), "outreach": (5, 300), "phone": (5, 60), "video": "x",
                    "group": "x"},
        # June (3) is the only small month: March, the next smallest, is withheld with it
        "by_month": {"2024-03": "x", "2024-04": (10, 465), "2024-05": (9, 460), "2024-06": "x"},
    }
    assert [r["month"] for r in statewide["by_month"]] == ["2024-03", "2024-04", "2024-05",
                                                           "2024-06"]
    school = next(r for r in statewide["by_topic"] if r["topic"] == "school")
    assert school == {"topic": "school", "consultations": 0, "minutes": 0, "suppressed": False}
    video = next(r for r in statewide["by_mode"] if r["mode"] == "video")
    assert video == {"mode": "video", "consultations": None, "minutes": None, "suppressed": True}
    # open now: Stuttgart 7 - 1, Heidelberg all closed, Mannheim 5 - 1 (small), m6 closed
    assert statewide["open_cases"] == [
        {"tenant": STUTTGART, "open_cases": 6, "suppressed": False},
        {"tenant": HEIDELBERG, "open_cases": 0, "suppressed": False},
        {"tenant": MANNHEIM, "open_cases": None, "suppressed": True}]

    stuttgart = stats(state, tenant=STUTTGART)
    assert stuttgart["tenant"] == STUTTGART
    assert shown(stuttgart) == {
        "total": (13, 510), "clients": 6,
        "by_topic": {"language": (6, 180), "work": (8, 210), "housing": (5, 300)},
        # phone (2) is the only small mode: outreach, the next smallest, is withheld with it
        "by_mode": {"office": (6, 180), "outreach": "x", "phone": "x"},
        "by_month": {"2024-03": (6, 180), "2024-04": (7, 330)},
    }
    assert stuttgart["open_cases"] == [{"tenant": STUTTGART, "open_cases": 6, "suppressed": False}]
    # six consultations of three clients: the totals are shown, the client count is not
    assert shown(stats(state, tenant=HEIDELBERG)) == {
        "total": (6, 165), "clients": "x",
        "by_topic": {"language": "x", "benefits": "x"},
        "by_mode": {"phone": "x", "video": "x"},
        "by_month": {"2024-04": "x", "2024-06": "x"},
    }
    mannheim = stats(state, tenant=MANNHEIM)
    assert shown(mannheim) == {
        "total": (9, 460), "clients": 5,
        "by_topic": {"language": (9, 460), "everyday_life": "x"},
        "by_mode": {"office": "x", "group": "x"}, "by_month": {"2024-05": (9, 460)},
    }
    assert mannheim["open_cases"] == [{"tenant": MANNHEIM, "open_cases": None, "suppressed": True}]
    nobody = stats(state, tenant="08212000")
    assert shown(nobody) == {"total": (0, 0), "clients": 0, "by_topic": {}, "by_mode": {},
                             "by_month": {}}
    assert nobody["open_cases"] == [{"tenant": "08212000", "open_cases": 0, "suppressed": False}]

    # date window, both ends inclusive
    april = stats(state, from_="2024-04-01", to="2024-04-30")
    assert (april["from"], april["to"]) == ("2024-04-01", "2024-04-30")
    assert shown(april) == {
        "total": (10, 465), "clients": 8,
        "by_topic": {"housing": (5, 300), "work": "x", "language": "x"},
        "by_mode": {"outreach": (5, 300), "phone": "x", "video": "x"},
        "by_month": {"2024-04": (10, 465)},
    }
    assert april["open_cases"] == statewide["open_cases"]  # open now, whatever the window
    assert shown(stats(state, from_="2024-04-02", to="2024-05-30")) == {
        "total": (10, 265), "clients": 10,
        "by_topic": {"language": (8, 235), "work": "x"},
        "by_mode": {"office": (5, 100), "phone": "x", "video": "x"},
        "by_month": {"2024-04": (5, 165), "2024-05": (5, 100)},
    }
    assert shown(stats(state, from_="2024-05-31", to="2024-06-02")) == {  # four in all
        "total": "x", "clients": "x", "by_topic": {"language": "x", "everyday_life": "x"},
        "by_mode": {"group": "x"}, "by_month": {"2024-05": "x"}}
    assert shown(stats(state, to="2024-03-31", tenant=STUTTGART))["total"] == (6, 180)
    assert stats(state, from_="2024-04-30", to="2024-04-30")["totals_suppressed"] is True

    # the stored rows: one per event, pseudonyms only, the node that sent it
    with state.node.contexts["cases"].database.session() as s:
        rows = s.exec(select(StateConsultation)).all()
        n_topics = s.exec(select(func.count()).select_from(StateConsultationTopic)).one()
        m6 = s.get(StateCase, ("node-b", pseudonym("m6")))
    assert len(rows) == len(DATASET) == 28 and n_topics == 28 + 6 + 4
    first = next(r for r in rows if r.event_id == envs[0].event_id)
    assert (first.node, first.tenant, first.client, first.month, first.mode) == (
        "node-a", STUTTGART, pseudonym("s1"), "2024-03", "office")
    assert m6 is not None and (m6.opened_on, m6.closed_on) == (date(2024, 1, 2), date(2024, 6, 30))
    assert redis.xlen(DEAD_LETTERS) == 0


def recount(held: list[Held], *, tenant: str | None = None, from_: date | None = None,
            to: date | None = None) -> dict[str, Any]:
    """What a municipal node's own database gives, per the documented suppression rules."""
    picked = [h for h in held if (tenant is None or h.tenant == tenant)
              and (from_ is None or h.held_on >= from_) and (to is None or h.held_on <= to)]
    count: dict[str, Counter[str]] = defaultdict(Counter)
    minutes: dict[str, Counter[str]] = defaultdict(Counter)
    for h in picked:
        for name, key in [("mode", h.mode), ("month", h.held_on.strftime("%Y-%m")),
                          *(("topic", t) for t in h.topics)]:
            count[name][key] += 1
            minutes[name][key] += h.minutes

    def rows(name: str, keys: list[str], splits: bool) -> dict[str, Any]:
        cells = [Cell(k, count[name][k], minutes[name][k]) for k in keys]
        return {c.key: "x" if hidden else (c.consultations, c.minutes)
                for c, hidden in masked(cells, splits_total=splits) if c.consultations}

    total, clients = len(picked), len({(HOSTS[h.tenant], h.case) for h in picked})
    return {
        "total": "x" if 0 < total < 5 else (total, sum(h.minutes for h in picked)),
        "clients": "x" if 0 < clients < 5 else clients,
        "by_topic": rows("topic", list(TOPICS), False), "by_mode": rows("mode", list(MODES), True),
        "by_month": rows("month", sorted(count["month"]), True),
    }


def test_statistics_recount_from_the_municipal_records(state: NodeHandle, redis: Redis) -> None:
    rng = random.Random(20240501)
    start = date(2024, 1, 1)
    held = [Held(tenant, f"{tenant}-c{rng.randrange(25)}",
                 start + timedelta(days=rng.randrange(240)), rng.choice(MODES),
                 tuple(rng.sample(TOPICS, rng.choice((1, 1, 2, 3)))), rng.randrange(5, 181, 5))
            for tenant, n in ((STUTTGART, 180), (HEIDELBERG, 40), (MANNHEIM, 120))
            for _ in range(n)]
    send(redis, held)
    eventually(lambda: settled(redis))
    windows = [{}, {"tenant": HEIDELBERG}, {"tenant": MANNHEIM, "from_": "2024-03-01"},
               {"from_": "2024-02-10", "to": "2024-02-20"}, {"tenant": STUTTGART, "to": "2024-01-31"},
               {"tenant": HEIDELBERG, "from_": "2024-06-01", "to": "2024-06-30"}]
    for window in windows:
        expected = recount(held, tenant=window.get("tenant"),
                           from_=day(window["from_"]) if "from_" in window else None,
                           to=day(window["to"]) if "to" in window else None)
        assert shown(stats(state, **window)) == expected, window
    exact = shown(stats(state))
    assert exact["total"] == (len(held), sum(h.minutes for h in held))


def test_consultation_rows_are_kept_once_per_event(state: NodeHandle) -> None:
    kept_once(state.node.contexts["cases"].database)


def test_consultation_rows_are_kept_once_per_event_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url, TABLES)
    try:
        db.create_all()
        kept_once(db)
    finally:
        db.dispose()


def kept_once(db: Database) -> None:
    note: dict[str, Any] = {"event_id": "01JABCDEFGHJKMNPQRSTVWXYZ0", "node": "node-a", "tenant": STUTTGART,
            "client": pseudonym("c1"), "held_on": date(2024, 2, 29), "mode": "office",
            "topics": ["work", "work", "language"], "duration_minutes": 30}
    with db.session() as s:
        assert service.note_consultation(s, **note) is True
        s.commit()
    with db.session() as s:  # even past the bus's inbox, the event id keeps it at one row
        assert service.note_consultation(s, **note) is False
        s.commit()
        assert s.exec(select(func.count()).select_from(StateConsultation)).one() == 1
        topics = s.exec(select(StateConsultationTopic.topic)).all()
    assert sorted(topics) == ["language", "work"]  # a topic named twice counts once
    with db.session() as s, pytest.raises(service.NotPseudonymous):
        service.note_consultation(s, **{**note, "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ1",
                                        "client": "01JABCDEFGHJKMNPQRSTVWXYZ2"})
    run = [service.Consultation(**{**note, "event_id": event_id, "topics": topics})  # a batch handler's run
           for event_id, topics in [("01JABCDEFGHJKMNPQRSTVWXYZ0", ["work"]), ("01JABCDEFGHJKMNPQRSTVWXYZ3", ["work"]),
                                    ("01JABCDEFGHJKMNPQRSTVWXYZ4", ["housing", "work"])]]
    with db.session() as s:
        assert service.note_consultations(s, run) == 2  # the first is kept already
        s.commit()
        assert s.exec(select(func.count()).select_from(StateConsultation)).one() == 3
        topics = s.exec(select(StateConsultationTopic.topic)).all()
    assert sorted(topics) == ["housing", "language", "work", "work", "work"]
    twice = [service.Consultation(**{**note, "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ5", "topics": topics})
             for topics in (["school"], ["school", "work"])]  # one event twice in a run (a redelivery)
    with db.session() as s:
        assert service.note_consultations(s, twice) == 1
        s.commit()
        assert s.exec(select(StateConsultationTopic.topic).where(
            StateConsultationTopic.event_id == "01JABCDEFGHJKMNPQRSTVWXYZ5")).all() == ["school"]  # the first
    with db.session() as s:  # a run with a raw case id keeps none of it
        with pytest.raises(service.NotPseudonymous):
            service.note_consultations(s, [service.Consultation(**{**note, "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ6"}),
                                           service.Consultation(**{**note, "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ7",
                                                                   "client": "c-raw"})])
        s.rollback()
        assert s.exec(select(func.count()).select_from(StateConsultation)).one() == 4


def test_an_event_with_a_raw_case_id_is_dead_lettered(state: NodeHandle, redis: Redis) -> None:
    raw = Held(STUTTGART, "c1", date(2024, 3, 1), "office", ("work",), 30).event()
    env = Envelope(type=raw.event_type, version=raw.version, tenant=STUTTGART, node="node-a",
                   aggregate_id="c1", scope="up", payload=raw.model_dump(mode="json"))
    redis.xadd(STREAMS["cases"], {"event": env.to_json()})
    send(redis, [Held(STUTTGART, "c2", date(2024, 3, 1), "office", ("work",), 30)])
    eventually(lambda: redis.xlen(DEAD_LETTERS) == 1 and settled(redis))
    dead: Any = redis.xrange(DEAD_LETTERS)
    assert b"not a 64-hex pseudonym" in dead[0][1][b"error"]
    with state.node.contexts["cases"].database.session() as s:
        assert s.exec(select(StateConsultation.client)).all() == [pseudonym("c2")]


# -- authorisation and bad input --------------------------------------------------------------
def test_statistics_authorisation_and_bad_query(state: NodeHandle) -> None:
    assert state.client.get(STATS).status_code == 401
    assert state.client.get(STATS, headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in ("manager", "lead", "node_admin"):
        assert state.client.get(STATS, headers=officer(state, role)).status_code == 403, role
    for role in ("state_operator", "funding_officer"):
        assert state.client.get(STATS, headers=officer(state, role)).status_code == 200, role
    bad = [("tenant", "0811100"), ("tenant", "081110000"), ("tenant", "abcdefgh"),
           ("tenant", "08111000 "), ("tenant", "x" * 10_000), ("from", "2024-13-01"),
           ("from", "2024-02-30"), ("from", "1704067200"), ("from", "2024-1-1"),
           ("to", "yesterday"), ("to", "2024-01-01T00:00:00"), ("to", "x" * 10_000)]
    for field, value in bad:
        r = state.client.get(STATS, params={field: value}, headers=officer(state))
        assert r.status_code == 422, (field, value[:20])
        assert [d["field"] for d in r.json()["detail"]] == [field], (field, value[:20])
    r = state.client.get(STATS, params={"from": "2024-05-01", "to": "2024-04-30"},
                         headers=officer(state))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"field": "to", "reason": "must not be before from"}]
    # case files are not mounted at state level
    assert state.client.get(f"{API}/cases", headers=officer(state)).status_code == 404
    r = state.client.post(f"{API}/cases", headers=officer(state), json={})
    assert r.status_code in (404, 405)


def test_state_roles_get_no_statistics_from_a_municipal_node(start_node: Callable[..., NodeHandle],
                                                       redis: Redis) -> None:
    node = start_node("cases")
    headers = node.headers("s1", "state_operator", tenants=[STUTTGART])
    # a municipal node serves its figures to its lead only (CONTRACT v2): a state role is refused
    assert node.client.get(STATS, headers=headers).status_code == 403
    # a municipal node does not consume its own case events
    groups = redis.xinfo_groups(STREAMS["cases"]) if redis.exists(STREAMS["cases"]) else []
    assert b"cases" not in {g["name"] for g in groups}


def test_case_outcomes_per_year_from_the_nodes_events(state: NodeHandle, redis: Redis) -> None:
    operator = officer(state)
    for n in range(6):
        cid = f"mannheim-case-{n}"
        inbound(redis, CaseOpened(case_id=cid, opened_on=date(2022, 2, 1), household_size=2,
                                  eligibility="temporary_protection_ukraine", household_members={"child": 1}), MANNHEIM)
        inbound(redis, ConsultationRecorded(case_id=cid, held_on=date(2022, 2, 1), duration_minutes=30,
                                            mode="office", topics=["work"]), MANNHEIM)
        if n < 5:
            inbound(redis, CaseClosed(case_id=cid, closed_on=date(2024, 2, 1), reason="independent"), MANNHEIM)
        else:
            inbound(redis, CounsellingExtended(case_id=cid, extended_on=date(2024, 12, 1)), MANNHEIM)
    eventually(lambda: settled(redis))  # the stream, not the (rate-limited) statistics, is polled
    answer = state.client.get(f"{API}/statistics/outcomes", headers=operator,
                              params={"year": 2024, "tenant": MANNHEIM}).json()
    assert answer["time_to_independence"] == {"closed_independent": {"count": 5, "withheld": False},
                                              "median_months": 24.0}
    opened = state.client.get(f"{API}/statistics/outcomes", headers=operator, params={"year": 2022}).json()
    assert opened["opened_by_eligibility"]["temporary_protection_ukraine"] == {"count": 6, "withheld": False}
    assert opened["household_members_opened"] == {"count": 6, "withheld": False}
    assert state.client.get(f"{API}/statistics/outcomes", headers=operator).status_code == 422  # a year is needed
    assert state.client.get(f"{API}/statistics/outcomes", params={"year": 2024},
                            headers=state.headers("m1", "node_admin", tenants=["08000000"])).status_code == 403
