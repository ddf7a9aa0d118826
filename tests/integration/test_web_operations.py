"""The node_admin's pages on a real node: health at a glance, streams, dead letters with replay, no case content."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from shared import clock
from shared.events import DEAD_LETTERS, STREAMS, Contract, envelope_for
from shared.events.cases import CaseOpened, ConsultationRecorded
from shared.events.codes import Mode, Topic
from shared.federation import registry
from shared.runtime.embedded import EmbeddedServer
from tests.integration.test_web_pages import sign_in
from tests.nodes import STUTTGART, NodeHandle, eventually
from web.client import Api

CANARY = "Zzyzxquokka"  # a client's name: it must never reach a node_admin's page
HELD_ON = clock.today() - timedelta(days=1)
LATE = "case-opened-late"
ADMIN = "node-admin-test-node"
LINK = re.compile(r'href="([^"]+)"')


def envelope(payload: Contract, aggregate_id: str) -> dict[str, Any]:
    return envelope_for(payload, tenant=STUTTGART, node="test-node", aggregate_id=aggregate_id).model_dump(mode="json")


def put(redis: Redis, event: dict[str, Any] | str) -> None:
    redis.xadd(STREAMS["cases"], {"event": event if isinstance(event, str) else json.dumps(event)})


@pytest.fixture
def node(start_node: Callable[..., NodeHandle]) -> NodeHandle:
    # two deliveries: a failing handler is dead-lettered within about a second
    return start_node("cases", "plans", "notifications", max_deliveries=2)


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every API path the web app calls while the test runs."""
    calls: list[str] = []
    original = Api.call

    async def recorded(self: Api, method: str, path: str, token: str, **kw: Any) -> Any:
        calls.append(path)
        return await original(self, method, path, token, **kw)

    monkeypatch.setattr(Api, "call", recorded)
    yield calls


def poison(node: NodeHandle, redis: Redis) -> None:
    """A case with the canary's name, and three dead letters, two of them quoting the canary."""
    manager = node.headers("manager-stuttgart-1", "manager", tenants=[STUTTGART])
    r = node.client.post("/api/cases/v1/cases", headers=manager, json={
        "given_name": CANARY, "family_name": CANARY, "birth_date": "1990-05-17", "nationality": "SYR",
        "languages": ["ar"], "household_size": 2, "accommodation_since": "2023-02-01"})
    assert r.status_code == 201
    put(redis, "{not json " + CANARY)
    opened = envelope(CaseOpened(case_id="case-x", manager="m1", opened_on=HELD_ON, household_size=2), "case-x")
    opened["payload"]["household_size"] = CANARY
    put(redis, opened)
    put(redis, envelope(ConsultationRecorded(case_id=LATE, manager="m1", held_on=HELD_ON, duration_minutes=30,
                                             mode=Mode.office, topics=[Topic.work]), LATE))
    eventually(lambda: redis.xlen(DEAD_LETTERS) == 5)  # plans and notifications each refuse the first two
    assert CANARY.encode() in b"".join(v for _, f in redis.xrange(DEAD_LETTERS) for v in f.values())


def crawl(client: TestClient, start: str = "/", headers: dict[str, str] | None = None) -> dict[str, str]:
    """Every page reachable by links from `start` on this site: path -> HTML."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        answer = client.get(path, headers=headers or {})
        seen[path] = answer.text
        for href in LINK.findall(answer.text):
            target = urljoin(f"http://testserver{path}", unescape(href))
            parts = urlsplit(target)
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if parts.netloc == "testserver" and not parts.path.startswith("/assets/") and local not in seen:
                queue.append(local)
        assert len(seen) < 200, "the crawl does not end"
    return seen


def test_a_node_admin_replays_dead_letters_and_sees_no_case_content_anywhere(
        node: NodeHandle, redis: Redis, api_calls: list[str]) -> None:
    poison(node, redis)
    csrf = sign_in(node.client, ADMIN)
    assert node.client.get("/", follow_redirects=False).headers["location"] == "/node"
    api_calls.clear()
    german, english = crawl(node.client), crawl(node.client, headers={"Accept-Language": "en"})
    assert {"/node", "/node/streams", "/node/dead-letters", "/inbox"} <= german.keys() == english.keys()
    assert any(p.startswith("/node/streams?sort=") for p in german)
    for path, html in [*german.items(), *english.items()]:
        assert CANARY not in html, path
    # no page of theirs asks a case or plan API: only the node's operations, the user's own inbox and the
    # retention runs (dates and counts, no case)
    asked = {p for p in api_calls if p != "/api/cases/v1/erasure-runs"}
    assert "/api/cases/v1/erasure-runs" in api_calls
    assert asked and {p.split("/")[2] for p in asked} <= {"node", "notifications"}, set(api_calls)

    listing = german["/node/dead-letters"]
    assert "5 unzustellbare Ereignisse auf diesem Knoten" in listing
    assert listing.count('action="/node/dead-letters/') == 5
    assert "input_value=(withheld)" in listing  # the API's redacted error, as it is
    letters = node.call("GET", "/api/node/v1/dead-letters", as_=node.headers("x", "node_admin")).json()["items"]
    failed = next(d for d in letters if d["event_type"] == "ConsultationRecorded")
    envelope_error = next(d for d in letters if d["event_type"] is None)
    for d in letters:
        assert f'id="dl-{d["id"]}"' in listing and f'id="replay-{d["id"]}"' in listing

    # without the token: refused, nothing replayed
    refused = node.client.post(f"/node/dead-letters/{failed['id']}/replay", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "Das Formular wurde nicht angenommen" in refused.text
    assert redis.xlen(DEAD_LETTERS) == 5

    # the case's opening arrives late; replayed without JavaScript, the consultation then reaches its plan
    put(redis, envelope(CaseOpened(case_id=LATE, manager="m1", opened_on=HELD_ON, household_size=2), LATE))
    manager = node.headers("m1", "manager", tenants=[STUTTGART])  # the late case's manager
    plan_url = f"/api/plans/v1/plans?case_id={LATE}"
    eventually(lambda: node.client.get(plan_url, headers=manager).status_code == 200)
    replayed = node.client.post(f"/node/dead-letters/{failed['id']}/replay", data={"csrf_token": csrf},
                                follow_redirects=False)
    assert (replayed.status_code, replayed.headers["location"]) == (303, "/node/dead-letters")
    after = node.client.get("/node/dead-letters").text
    assert "Das Ereignis wurde erneut eingespielt" in after and f'id="dl-{failed["id"]}"' not in after
    assert "4 unzustellbare Ereignisse auf diesem Knoten" in after
    eventually(lambda: node.client.get(plan_url, headers=manager).json()["last_contact_on"] == HELD_ON.isoformat())

    # with HTMX: the row is swapped for its outcome, the message goes to the page's status region
    swapped = node.client.post(f"/node/dead-letters/{envelope_error['id']}/replay",
                               headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith(f'<tr id="dl-{envelope_error["id"]}" class="row--done">')
    assert "Eingespielt" in swapped.text and 'hx-swap-oob="innerHTML:#flash"' in swapped.text
    assert CANARY not in swapped.text
    # replayed once: the same id again is gone, said in words, with and without JavaScript
    again = node.client.post(f"/node/dead-letters/{envelope_error['id']}/replay",
                             headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert again.status_code == 200 and "bereits erneut eingespielt oder entfernt" in again.text
    again = node.client.post(f"/node/dead-letters/{failed['id']}/replay", data={"csrf_token": csrf})
    assert again.status_code == 200 and "nicht mehr vorhanden" in again.text
    assert node.client.post("/node/dead-letters/not-an-id/replay", data={"csrf_token": csrf}).status_code == 404


def test_the_node_at_a_glance_then_its_streams(node: NodeHandle, redis: Redis) -> None:
    sign_in(node.client, ADMIN)
    ok = node.client.get("/node")
    assert ok.status_code == 200
    assert "Knotenzustand" in ok.text and "test-node" in ok.text and "Stuttgart, Heidelberg" in ok.text
    assert "Braucht Aufmerksamkeit" not in ok.text  # a fresh node: every card says OK
    assert "Nicht verbunden" in ok.text  # no state link configured
    for service in ("cases", "plans", "notifications"):
        assert f'<th scope="row">{service}</th>' in ok.text
    assert "Valkey" in ok.text
    put(redis, "{not json")
    eventually(lambda: redis.xlen(DEAD_LETTERS) >= 1)
    attention = node.client.get("/node").text
    assert "Braucht Aufmerksamkeit" in attention and 'href="/node/dead-letters"' in attention
    streams = node.client.get("/node/streams?sort=lag")
    assert streams.status_code == 200 and STREAMS["cases"] in streams.text
    assert 'aria-sort="descending"' in streams.text
    assert re.search(r'<th scope="row">plans</th>', streams.text)
    english = node.client.get("/node/streams", headers={"Accept-Language": "en"}).text
    assert "Streams and consumer groups" in english and 'aria-sort="ascending"' in english


def test_other_roles_get_no_node_pages(node: NodeHandle) -> None:
    sign_in(node.client, "lead-stuttgart")
    for path in ("/node", "/node/streams", "/node/dead-letters"):
        answer = node.client.get(path)
        assert answer.status_code == 403, path
    assert "/node" not in node.client.get("/cases").text.split("<main")[0]  # nor in the menu


def test_on_the_state_node_the_link_is_the_registry(start_node: Callable[..., NodeHandle]) -> None:
    state = start_node("federation", level="state")
    with state.node.contexts["federation"].database.session() as s:
        registry.register(s, node_id="node-a", tenants=[STUTTGART], public_key="A" * 43 + "=")
        s.commit()
    sign_in(state.client, "node-admin-state")
    answer = state.client.get("/node")
    assert "Der Landesknoten." in answer.text
    assert "1 kommunaler Knoten registriert" in answer.text


def test_a_linked_municipal_node_shows_its_link(start_node: Callable[..., NodeHandle], valkey: EmbeddedServer) -> None:
    # the node's own Redis stands in for the state's: the relay appends to this node's inbound stream
    node = start_node("cases", "federation", state_redis_url=valkey.url, heartbeat_interval_s=0.1)
    sign_in(node.client, ADMIN)

    def linked() -> str | None:
        html = node.client.get("/node").text
        return html if "Letzter Heartbeat gesendet vor" in html and "Verbunden" in html else None

    html = eventually(linked)
    assert "Verbindung zum Landesknoten" in html and "0 Ereignisse noch nicht weitergeleitet" in html
