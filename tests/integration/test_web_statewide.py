"""The state operator's pages on a real state node: every node at a glance, statewide figures, the register."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from redis import Redis

from shared import clock
from shared.events import STREAMS, Contract, Envelope, utcnow
from shared.events.cases import CaseOpened, ConsultationRecorded
from shared.events.codes import Mode, PositionStatus, Topic
from shared.events.funding import PositionOccupancyChanged, PositionRegistered
from shared.events.plans import PlanGoalAdded
from shared.federation import registry
from shared.federation.models import RegisteredNode
from tests.integration.test_web_pages import sign_in
from tests.nodes import HEIDELBERG, MANNHEIM, STUTTGART, NodeHandle, eventually
from web.client import Api, ApiError

OPERATOR = "state-operator"
HOSTS = {STUTTGART: "node-a", HEIDELBERG: "node-b", MANNHEIM: "node-c"}
YEAR = clock.today().year - 1
WITHHELD = "zurückgehalten"


def pseudonym(value: str) -> str:
    """Stands in for a municipal node's HMAC key."""
    return hashlib.sha256(value.encode()).hexdigest()


def inbound(redis: Redis, payload: Contract, tenant: str, aggregate: str) -> None:
    """An event as the federation link republishes it on the state bus: its state projection."""
    env = Envelope(type=payload.event_type, version=payload.version, tenant=tenant, node=HOSTS[tenant],
                   scope=payload.scope, aggregate_id=aggregate, payload=payload.state_projection(pseudonym))
    redis.xadd(payload.stream, {"event": env.to_json()})


def settled(redis: Redis, *streams: str) -> bool:
    for name in streams:
        groups = redis.xinfo_groups(STREAMS[name])
        group = next((g for g in groups if g["name"] == name.encode()), None)
        if group is None or group["lag"] or group["pending"]:
            return False
    return True


class Tables(HTMLParser):
    """Every table of a page as its caption and rows of cell texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self.text: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th", "caption") and self.tables:
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "caption") and self.text is not None:
            text = " ".join("".join(self.text).split())
            if tag == "caption":
                self.tables[-1]["caption"] = text
            else:
                self.tables[-1]["rows"][-1].append(text)
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def table(html: str, caption: str) -> list[list[str]]:
    """The rows (header row first) of the table with this caption."""
    return next(t["rows"] for t in Tables(html).tables if t["caption"] == caption)


@pytest.fixture
def state(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    return start_node("federation", "cases", "plans", "funding", "notifications", level="state")


def register(state: NodeHandle, **health: Any) -> None:
    """node-a reporting, node-b silent, node-c registered but never heard of."""
    with state.node.contexts["federation"].database.session() as s:
        for n, (tenant, node_id) in enumerate(HOSTS.items()):
            registry.register(s, node_id=node_id, tenants=[tenant], public_key=chr(65 + n) * 43 + "=")
        s.flush()
        a, b = s.get(RegisteredNode, "node-a"), s.get(RegisteredNode, "node-b")
        assert a is not None and b is not None
        a.last_heartbeat_at, a.version, a.relay_lag, a.outbox_backlog, a.dead_letters = (
            utcnow() - timedelta(seconds=12), "0.1.0", 3, 0, 2)
        b.last_heartbeat_at, b.version, b.silent_alerted = utcnow() - timedelta(hours=3), "0.0.9", True
        for name, value in health.items():
            setattr(a, name, value)
        s.add_all([a, b])
        s.commit()


def test_every_node_at_a_glance_silent_ones_marked_in_words(state: NodeHandle) -> None:
    register(state)
    sign_in(state.client, OPERATOR)
    assert state.client.get("/", follow_redirects=False).headers["location"] == "/state/nodes"
    answer = state.client.get("/state/nodes")
    html = answer.text
    assert answer.status_code == 200
    assert '<p id="nodes-summary" class="lead" aria-live="polite">3 Knoten, 1 still: node-b.</p>' in html
    assert html.count("aria-live") == 1 and 'role="status"' not in html.split("<main")[1]
    assert 'hx-trigger="every 10s"' in html
    rows = table(html, "3 registrierte Knoten")
    assert rows[0][:4] == ["Knoten", "Kommunen", "Status ▼", "Letzter Heartbeat"]
    # silent first, then by name; the silent one says so in words, not only in colour
    assert [r[0] for r in rows[1:]] == ["node-b", "node-a", "node-c"]
    assert rows[1][1:3] == ["Heidelberg", "⚠ Still"] and rows[1][3].startswith("vor 3 Stunden")
    # 12 s before the page was asked for; signing in on a loaded machine may take a few of them
    assert rows[2][1:3] == ["Stuttgart", "✓ Meldet sich"] and re.match(r"vor (1[2-9]|[2-5]\d) Sekunden", rows[2][3])
    assert rows[2][4:] == ["0.1.0", "3", "0", "2"]
    assert rows[3][1:] == ["Mannheim", "Noch kein Heartbeat", "nie", "–", "–", "–", "–"]
    assert '<tr id="node-node-b" class="row--silent">' in html
    by_name = state.client.get("/state/nodes?sort=node_id").text
    assert [r[0] for r in table(by_name, "3 registrierte Knoten")[1:]] == ["node-a", "node-b", "node-c"]
    assert 'aria-sort="ascending"><a href="/state/nodes?sort=node_id"' in by_name


def test_the_overview_refreshes_itself_and_announces_only_a_changed_summary(state: NodeHandle) -> None:
    register(state)
    sign_in(state.client, OPERATOR)
    page = state.client.get("/state/nodes").text
    live = re.search(r'hx-get="(/state/nodes/live\?[^"]+)"', page)
    assert live is not None
    url = live.group(1).replace("&amp;", "&")
    htmx = {"HX-Request": "true"}
    same = state.client.get(url, headers=htmx)
    assert same.status_code == 200 and same.text.startswith('<div id="nodes-live"')
    assert "nodes-summary" not in same.text  # nothing changed: nothing is read out again
    with state.node.contexts["federation"].database.session() as s:
        a = s.get(RegisteredNode, "node-a")
        assert a is not None
        a.silent_alerted = True
        s.add(a)
        s.commit()
    changed = state.client.get(url, headers=htmx).text
    assert '<p id="nodes-summary" hx-swap-oob="innerHTML">3 Knoten, 2 still: node-a, node-b.</p>' in changed
    assert '<tr id="node-node-a" class="row--silent">' in changed
    again = re.search(r'hx-get="(/state/nodes/live\?[^"]+)"', changed)
    assert again is not None and again.group(1) != live.group(1)  # the next poll compares with the new summary
    # without HTMX the partial is the page
    assert state.client.get(url, follow_redirects=False).headers["location"] == "/state/nodes?sort=silent"


def test_a_registry_that_does_not_answer_leaves_the_table_and_says_so(
        state: NodeHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    register(state)
    sign_in(state.client, OPERATOR)
    url = "/state/nodes/live?sort=silent&seen=x"

    async def failing(self: Api, method: str, path: str, token: str, **kw: Any) -> Any:
        raise ApiError(502, "bad gateway")

    monkeypatch.setattr(Api, "fetch", failing)
    stale = state.client.get(url, headers={"HX-Request": "true"})
    assert stale.status_code == 200 and stale.headers["HX-Reswap"] == "none"  # the table stays, polling goes on
    assert stale.text.startswith('<p class="meta" id="nodes-updated" hx-swap-oob="true">')
    assert "Nicht aktualisiert" in stale.text and "nodes-summary" not in stale.text


def test_an_empty_registry_says_what_to_do(state: NodeHandle) -> None:
    sign_in(state.client, OPERATOR)
    html = state.client.get("/state/nodes").text
    assert "Noch kein Knoten registriert." in html and "lotse federation register" in html


def feed(redis: Redis) -> None:
    """Consultations, open cases, goals and positions from three municipal nodes."""
    cases = [(STUTTGART, f"s{i}") for i in range(7)] + [(HEIDELBERG, "h0"), (HEIDELBERG, "h1"), (MANNHEIM, "m0")]
    for tenant, case in cases:
        inbound(redis, CaseOpened(case_id=case, manager="m1", opened_on=date(YEAR, 1, 5), household_size=2),
                tenant, pseudonym(case))
    held = [(STUTTGART, f"s{i}", date(YEAR, 3, 10), Mode.office, [Topic.work, Topic.language]) for i in range(6)]
    held += [(STUTTGART, "s6", date(YEAR, 4, 2), Mode.phone, [Topic.work]),
             (HEIDELBERG, "h0", date(YEAR, 4, 3), Mode.outreach, [Topic.housing])]
    for n, (tenant, case, day, mode, topics) in enumerate(held):
        inbound(redis, ConsultationRecorded(case_id=case, consultation_id=f"c{n}", manager="m1", held_on=day,
                                            duration_minutes=30, mode=mode, topics=topics), tenant, pseudonym(case))
    for n, (tenant, case) in enumerate(cases):
        area = Topic.work if tenant == STUTTGART else Topic.housing
        inbound(redis, PlanGoalAdded(plan_id=f"p-{case}", case_id=case, goal_id=f"g{n}", manager="m1", area=area,
                                     plan_version=2), tenant, pseudonym(f"p-{case}"))
    starts = date(YEAR, 1, 1)
    for n in range(27):
        tenant = STUTTGART if n < 25 else HEIDELBERG
        position = f"pos-{n:02d}"
        inbound(redis, PositionRegistered(position_id=position, fte=0.5 if n < 25 else 1.0, starts_on=starts,
                                          ends_on=date(YEAR + 3, 1 + n % 12, 28), status=PositionStatus.approved),
                tenant, position)
    inbound(redis, PositionOccupancyChanged(position_id="pos-00", occupied=True, since=date(YEAR, 2, 1),
                                            status=PositionStatus.occupied), STUTTGART, "pos-00")
    eventually(lambda: settled(redis, "cases", "plans", "funding"))


def expected(rows: list[dict[str, Any]], *counts: str) -> list[list[str]]:
    """A table's figures as the page must show them: the API's, or 'withheld' where it withholds."""
    return [[WITHHELD if r["suppressed"] else str(r[c]) for c in counts] for r in rows]


def test_statewide_figures_withhold_exactly_what_the_api_withholds(state: NodeHandle, redis: Redis) -> None:
    register(state)
    feed(redis)
    sign_in(state.client, OPERATOR)
    html = state.client.get("/state/statistics").text
    operator = state.headers("op", "state_operator")
    api = state.client.get("/api/cases/v1/statistics/consultations", headers=operator).json()
    goals = state.client.get("/api/plans/v1/statistics/goals", headers=operator).json()
    assert api["consultations"] == 8 and api["distinct_clients"] == 8

    months = table(html, "Beratungen nach Monat")
    assert [r[1:] for r in months[1:]] == expected(api["by_month"], "consultations", "minutes")
    # April's 2 is withheld, and March's 6 with it: the total minus March would give April back
    assert months[1:] == [[f"03.{YEAR}", WITHHELD, WITHHELD], [f"04.{YEAR}", WITHHELD, WITHHELD]]
    topics = table(html, "Beratungen nach Thema")
    assert [r[1:] for r in topics[1:]] == expected(api["by_topic"], "consultations", "minutes")
    assert topics[1] == ["Sprache", "6", "180"] and topics[3] == ["Wohnen", WITHHELD, WITHHELD]
    modes = table(html, "Beratungen nach Form")
    assert [r[1:] for r in modes[1:]] == expected(api["by_mode"], "consultations", "minutes")
    open_cases = table(html, "Offene Fälle je Kommune")
    assert [r[1:] for r in open_cases[1:]] == expected(api["open_cases"], "open_cases")
    assert ["Stuttgart", "7"] in open_cases and ["Heidelberg", WITHHELD] in open_cases
    cross = table(html, "Ziele nach Handlungsfeld und Status")
    work = next(r for r in cross if r[0] == "Arbeit")
    cell = {(c["area"], c["status"]): c for c in goals["cells"]}
    assert work[1:-1] == [WITHHELD if cell["work", s]["suppressed"] else str(cell["work", s]["count"])
                          for s in ("open", "in_progress", "achieved", "dropped")]
    assert work[1] == "7" and next(r for r in cross if r[0] == "Wohnen")[1] == WITHHELD

    # each chart is an image with a name and a description naming what is withheld; the figures are the table's
    charts = re.findall(r'<svg class="chart" role="img"[^>]*aria-labelledby="([^" ]+) ([^"]+)"', html)
    assert len(charts) == 6
    assert "<title id=\"chart-month-title\">Beratungen nach Monat</title>" in html
    assert f"Zurückgehalten: 03.{YEAR}, 04.{YEAR}." in html
    assert "<script" not in html.split("<main")[1]

    one = state.client.get(f"/state/statistics?tenant={STUTTGART}&from=01.03.{YEAR}&to=31.03.{YEAR}").text
    assert table(one, "Beratungen nach Monat")[1:] == [[f"03.{YEAR}", "6", "180"]]
    assert '<span class="caption">Stuttgart</span>' in one


def test_bad_filters_are_named_at_their_fields(state: NodeHandle) -> None:
    register(state)
    sign_in(state.client, OPERATOR)
    bad = state.client.get("/state/statistics?from=31.02.2026&tenant=99999999")
    assert bad.status_code == 422
    assert 'href="#f-tenant"' in bad.text and 'href="#f-from"' in bad.text
    assert 'aria-invalid="true"' in bad.text and "Beratungen nach Monat" not in bad.text
    backwards = state.client.get("/state/statistics?from=02.03.2026&to=01.03.2026")
    assert backwards.status_code == 422 and 'href="#f-to"' in backwards.text
    assert "Das Enddatum darf nicht vor dem Anfangsdatum liegen" in backwards.text


def test_the_statewide_register_pages_and_sorts(state: NodeHandle, redis: Redis) -> None:
    register(state)
    feed(redis)
    sign_in(state.client, OPERATOR)
    html = state.client.get("/state/positions").text
    totals = table(html, "Vollzeitäquivalente (VZÄ) der laufenden Stellen je Kommune")
    assert totals[1:] == [["Stuttgart", "25", "12,5", "0,5", "12", "0"], ["Heidelberg", "2", "2", "0", "2", "0"]]
    first = table(html, "27 Stellen – Seite 1 von 2")
    assert len(first) == 26 and first[1][:4] == ["Heidelberg", "pos-25", "1", "Bewilligt, noch nicht besetzt"]
    assert 'href="/state/positions?tenant=&amp;sort=place&amp;page=1"' in html
    second = state.client.get("/state/positions?sort=place&page=1").text
    assert len(table(second, "27 Stellen – Seite 2 von 2")) == 3
    occupied = next(r for r in first if r[1] == "pos-00")
    assert occupied[3].startswith("Besetzt") and f"seit 01.02.{YEAR}" in occupied[3]
    by_fte = state.client.get(f"/state/positions?tenant={HEIDELBERG}&sort=fte").text
    assert [r[1] for r in table(by_fte, "2 Stellen")[1:]] == ["pos-25", "pos-26"]
    assert 'aria-sort="descending"' in by_fte
    assert state.client.get("/state/positions?page=abc").status_code == 200


def test_every_page_of_the_state_operator_and_no_node_admin_pages(state: NodeHandle) -> None:
    register(state)
    sign_in(state.client, OPERATOR)
    start = state.client.get("/state/nodes").text
    for link in ("/state/nodes", "/state/statistics", "/state/positions", "/inbox"):
        assert f'href="{link}"' in start
        assert state.client.get(link).status_code == 200, link
    assert 'href="/node"' not in start
    assert state.client.get("/node").status_code == 403
    english = state.client.get("/state/nodes", headers={"Accept-Language": "en"}).text
    assert "3 nodes, 1 silent: node-b." in english and "Silent" in english
