"""Web app pages vs the JSON API calls they wrap: 50 signed-in users on an all-in-one node, same run.

Run: .venv/bin/python bench/web.py [--requests N] [--users 50] [--cases 30] [--solo 200] [--think 2]
One node (`lotse node up`: all services and the web app, embedded server, SQLite) in its own process.
Six managers (the sign-in picker's, three municipalities) get `--cases` cases each with consultations
and plan goals through the API. `--users` browser sessions sign in through the dev picker (CSRF token
and all) and, as many concurrent clients, load the case page (`/cases/{id}`) and the caseload (`/cases`);
then the same number of API clients with the same managers' tokens make the calls those pages make
(case, consultations, plan, consents and the unread counter; the case list). Server time is the node's
own access-log duration per request; each bench request carries a `traceparent` of its own, so the log
lines are told apart. The API calls a page makes in-process are not logged apart: the page's
Server-Timing header says how long they took.
Three rounds: one user alone (a request's cost), 50 users back to back (a closed loop: the node's
capacity, latency = users / throughput), 50 users pausing between pages (as people do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.auth import issue_dev_token  # noqa: E402
from shared.runtime.embedded import free_port  # noqa: E402

NODE_ID = "bench"
TENANTS = {"08111000": "stuttgart", "08221000": "heidelberg", "08222000": "mannheim"}  # as web/users.py names them
MANAGERS = [(f"manager-{name}-{n}", tenant) for tenant, name in TENANTS.items() for n in (1, 2)]
CASES, PLANS = "/api/cases/v1/cases", "/api/plans/v1/plans"
TOPICS = ["language", "work", "housing", "school", "health", "family", "residence", "benefits"]
AREAS = {"language": "B1 German course with certificate", "work": "Recognition of vocational degree",
         "housing": "Own rental flat", "school": "Enrol children in primary school"}
UNREAD = "/api/notifications/v1/inbox/unread"
SERVER_TIMING = re.compile(r"api;dur=([0-9.]+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_P95_MS = 150.0
# uvicorn closes a connection idle for 5 s, httpx's default reuses one up to 5 s: under load the two race
# ("Server disconnected without sending a response"). Clients here drop idle connections well before.
LIMITS = httpx.Limits(keepalive_expiry=2.0)


@dataclass
class User:
    """One signed-in browser session (its cookie jar) and the same manager's bearer token for the API."""

    sub: str
    token: str
    cases: list[str]
    browser: httpx.AsyncClient | None = None


@dataclass
class Scenario:
    """What one unit of work is, and what was measured for it."""

    name: str
    # (client, user, case id, traceparent) -> for a page: its in-process API calls' ms (Server-Timing)
    unit: Callable[[httpx.AsyncClient, User, str, str], Awaitable[float | None]]
    web: bool
    client_s: list[float] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    inner_ms: dict[str, float] = field(default_factory=dict)  # trace id -> the page's API calls (ms)
    rps: float = 0.0


def serve(env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "shared.runtime.cli", "node", "up"], env=env, cwd=ROOT,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


def ok(r: httpx.Response, *codes: int) -> httpx.Response:
    if r.status_code not in (codes or (200,)):
        raise RuntimeError(f"{r.request.method} {r.request.url.path} -> {r.status_code} {r.text[:300]}")
    return r


async def seed_case(api: httpx.AsyncClient, token: str, tenant: str, rng: random.Random, consultations: int) -> str:
    """A case with consultations and a plan with two goals, one of them in progress."""
    auth = {"Authorization": f"Bearer {token}"}
    today = date.today()
    case = ok(await api.post(CASES, headers=auth, json={
        "given_name": rng.choice(["Amina", "Yusuf", "Olena", "Ahmad", "Mariam", "Dmytro"]),
        "family_name": rng.choice(["Haddad", "Rahimi", "Kovalenko", "Nouri", "Yilmaz"]),
        "birth_date": date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
        "nationality": "SYR", "languages": ["ar", "de"], "household_size": rng.randint(1, 6), "tenant": tenant,
        "accommodation_since": (today - timedelta(days=rng.randint(60, 900))).isoformat()}), 201).json()
    for _ in range(consultations):
        ok(await api.post(f"{CASES}/{case['id']}/consultations", headers=auth, json={
            "held_on": (today - timedelta(days=rng.randint(0, 120))).isoformat(),
            "duration_minutes": rng.choice([30, 45, 60]), "mode": rng.choice(["office", "outreach", "phone"]),
            "topics": rng.sample(TOPICS, 2), "note": "Bewerbung besprochen"}), 201)
    for _ in range(200):  # the plans service makes the plan when it consumes CaseOpened
        r = await api.get(PLANS, headers=auth, params={"case_id": case["id"]})
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    plan = ok(r).json()
    for i, area in enumerate(rng.sample(list(AREAS), 2)):
        goal = ok(await api.post(f"{PLANS}/{plan['id']}/goals", headers=auth, json={
            "area": area, "title": AREAS[area], "target_date": (today + timedelta(days=180)).isoformat()}), 201).json()
        if i == 0:
            ok(await api.patch(f"{PLANS}/{plan['id']}/goals/{goal['id']}", headers=auth,
                               json={"status": "in_progress"}))
    return str(case["id"])


async def sign_in(base: str, sub: str) -> httpx.AsyncClient:
    """A browser session through the dev sign-in picker: GET /login (CSRF token), POST the chosen user."""
    browser = httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS, headers={"Accept-Language": "de-DE"})
    token = CSRF.search(ok(await browser.get("/login")).text)
    assert token, "no CSRF token on the sign-in page"
    r = ok(await browser.post("/login", data={"sub": sub, "csrf_token": token.group(1)}), 303)
    assert r.headers["location"] == "/", r.headers.get("location")
    ok(await browser.get("/cases"))  # signed in: the caseload answers instead of sending to /login
    return browser


def traceparent() -> tuple[str, str]:
    trace = secrets.token_hex(16)
    return trace, f"00-{trace}-{secrets.token_hex(8)}-01"


def api_ms(response: httpx.Response) -> float:
    """The page's in-process API time from its Server-Timing header (web/client.py ApiTiming)."""
    timing = SERVER_TIMING.search(response.headers.get("server-timing", ""))
    return float(timing.group(1)) if timing else 0.0


async def case_page(c: httpx.AsyncClient, u: User, case_id: str, tp: str) -> float:
    response = await c.get(f"/cases/{case_id}", headers={"traceparent": tp})
    ok(response)
    return api_ms(response)


async def caseload_page(c: httpx.AsyncClient, u: User, case_id: str, tp: str) -> float:
    response = await c.get("/cases", headers={"traceparent": tp})
    ok(response)
    return api_ms(response)


async def case_api(c: httpx.AsyncClient, u: User, case_id: str, tp: str) -> None:
    """What the case page asks the API, in the same order (web/pages/case_view.py, web/render.py)."""
    headers = {"Authorization": f"Bearer {u.token}", "traceparent": tp}
    ok(await c.get(f"{CASES}/{case_id}", headers=headers))
    ok(await c.get(f"{CASES}/{case_id}/consultations", headers=headers))
    ok(await c.get(PLANS, headers=headers, params={"case_id": case_id}))
    ok(await c.get(f"{CASES}/{case_id}/consents", headers=headers))
    ok(await c.get(UNREAD, headers=headers))
    return None


async def caseload_api(c: httpx.AsyncClient, u: User, case_id: str, tp: str) -> None:
    """What the caseload asks the API (web/pages/cases.py: the first page of 25; the unread counter)."""
    headers = {"Authorization": f"Bearer {u.token}", "traceparent": tp}
    ok(await c.get(CASES, headers=headers, params={"limit": 25}))
    ok(await c.get(UNREAD, headers=headers))
    return None


async def run(scenario: Scenario, users: list[User], api: list[httpx.AsyncClient], n: int,
              record: bool = True, think: float = 0.0) -> None:
    """n units from len(users) concurrent clients, each as its own user (browser session or token).

    `think`: each user's mean pause (exponential) before each unit; 0 is a closed loop, back to back.
    """
    counter = iter(range(n))
    rng = random.Random(7)

    async def client(i: int) -> None:
        user = users[i]
        c = user.browser if scenario.web else api[i]
        assert c is not None
        for _ in counter:
            if think:
                await asyncio.sleep(rng.expovariate(1 / think))
            trace, tp = traceparent()
            t = time.perf_counter()
            inner = await scenario.unit(c, user, rng.choice(user.cases), tp)
            if record:
                if inner is not None:
                    scenario.inner_ms[trace] = inner
                scenario.client_s.append(time.perf_counter() - t)
                scenario.traces.append(trace)

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(len(users))))
    if record:
        scenario.rps = n / (time.perf_counter() - start)


def server_times(log: Path) -> dict[str, list[tuple[str, float]]]:
    """trace id -> [(route, duration ms)] in the order the node logged them (inner calls end first)."""
    by_trace: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        if '"lotse.access"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("trace_id"):
            by_trace[entry["trace_id"]].append((entry["route"], float(entry["duration_ms"])))
    return by_trace


def unit_server_ms(scenario: Scenario, trace: str, lines: list[tuple[str, float]]) -> tuple[float, float]:
    """A unit's server time, and (pages only) how much of it the in-process API calls took."""
    if scenario.web:  # the page's own line (its in-process API calls have none)
        return max(d for _, d in lines), scenario.inner_ms.get(trace, 0.0)
    return sum(d for _, d in lines), 0.0


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def report(rounds: list[tuple[str, list[Scenario], bool]], log: Path) -> None:
    """Per round and scenario: throughput, server and client times; per page its ratios to its API calls."""
    logged = server_times(log)
    for title, scenarios, closed in rounds:
        print(f"\n{title}")
        print(f"{'':36} {'req/s':>6} | server ms p50    p95    p99 | client ms p50    p95    p99")
        server: dict[str, list[float]] = {}
        for s in scenarios:
            units = [unit_server_ms(s, t, logged[t]) for t in s.traces if t in logged]
            server[s.name] = [u for u, _ in units]
            sv, cl = server[s.name], [x * 1000 for x in s.client_s]
            print(f"{s.name:36} {s.rps:6.0f} | {pct(sv, 50):13.1f} {pct(sv, 95):6.1f} {pct(sv, 99):6.1f} "
                  f"| {pct(cl, 50):13.1f} {pct(cl, 95):6.1f} {pct(cl, 99):6.1f}"
                  + (f"   ({len(sv)}/{len(s.traces)} in the log)" if len(sv) != len(s.traces) else ""))
            if s.web:
                inner = [i for _, i in units]
                print(f"{'':36}   of which its in-process API calls p50 {pct(inner, 50):.1f} ms, "
                      f"rendering and the rest p50 {pct([u - i for u, i in units], 50):.1f} ms")
        for page, api in zip(scenarios[::2], scenarios[1::2], strict=True):
            p95 = pct(server[page.name], 95)
            # With pauses the users set the pace, so a throughput ratio says nothing there.
            throughput = f"{page.rps / api.rps:.2f}x the API's throughput, " if closed else ""
            print(f"{page.name.split()[0]}: {throughput}server p95 "
                  f"{p95 / pct(server[api.name], 95):.2f}x the API's; page p95 {p95:.0f} ms "
                  f"(target <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'not met'})")


def scenarios() -> list[Scenario]:
    """Each page, then the API calls it wraps."""
    return [Scenario("case page  GET /cases/{id}", case_page, web=True),
            Scenario("  its API calls (5 GETs)", case_api, web=False),
            Scenario("caseload   GET /cases", caseload_page, web=True),
            Scenario("  its API calls (cases?limit=25, unread)", caseload_api, web=False)]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000, help="units of work per scenario")
    ap.add_argument("--users", type=int, default=50, help="concurrent signed-in users (and API clients)")
    ap.add_argument("--cases", type=int, default=30, help="cases per manager (the caseload shows 25)")
    ap.add_argument("--consultations", type=int, default=4, help="consultations per case")
    ap.add_argument("--solo", type=int, default=200, help="units per scenario from one user first (0: none)")
    ap.add_argument("--think", type=float, default=2.0,
                    help="a last round with this mean pause per user between pages, in s (0: no such round)")
    ap.add_argument("--keep", action="store_true", help="keep the node's data directory and log")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lotse-web-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}, "PYTHONPATH": str(ROOT),
           "LOTSE_NODE_ID": NODE_ID, "LOTSE_TENANTS": ",".join(TENANTS), "LOTSE_DATA_DIR": str(tmp / "node"),
           "LOTSE_HTTP_PORT": str(port),
           # every bench user signs in from this one address: the sign-in limit is not what is measured
           "LOTSE_RATE_LIMIT_BURST": "1000", "LOTSE_RATE_LIMIT_PER_MINUTE": "60000"}
    log = tmp / "node.log"
    node = serve(env, f"{base}/readyz", log)
    clients: list[httpx.AsyncClient] = []
    try:
        tokens = {sub: issue_dev_token(tmp / "node", node_id=NODE_ID, node_tenants=list(TENANTS), sub=sub,
                                       roles=["manager"], tenants=[tenant]) for sub, tenant in MANAGERS}
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS) as seeder:
            rng = random.Random(2026)
            sem = asyncio.Semaphore(6)

            async def one(sub: str, tenant: str) -> str:
                async with sem:
                    return await seed_case(seeder, tokens[sub], tenant, rng, args.consultations)

            cases = {sub: await asyncio.gather(*(one(sub, tenant) for _ in range(args.cases)))
                     for sub, tenant in MANAGERS}
        print(f"seeded {len(MANAGERS) * args.cases} cases in {time.perf_counter() - started:.0f} s", flush=True)
        users = [User(sub, tokens[sub], cases[sub]) for sub, _ in
                 (MANAGERS[i % len(MANAGERS)] for i in range(args.users))]
        for user in users:
            user.browser = await sign_in(base, user.sub)
            clients.append(user.browser)
        api = [httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS) for _ in users]
        clients += api
        print(f"{len(users)} users signed in through the picker", flush=True)
        rounds: list[tuple[str, list[Scenario], bool]] = []
        await asyncio.sleep(2.0)  # the seed's events consumed: the node is idle again
        for s in scenarios():  # warm-up
            await run(s, users, api, min(200, args.requests), record=False)
        if args.solo:
            rounds.append((f"one user alone, {args.solo} units per row (what a request costs without queueing)",
                           scenarios(), True))
            for s in rounds[-1][1]:
                await run(s, users[:1], api[:1], args.solo)
        rounds.append((f"{len(users)} concurrent signed-in users, closed loop (no think time), "
                       f"{args.requests} units per row", scenarios(), True))
        for s in rounds[-1][1]:
            await run(s, users, api, args.requests)
        if args.think:
            rounds.append((f"{len(users)} concurrent signed-in users, each pausing {args.think:g} s on average "
                           f"before the next page, {args.requests} units per row", scenarios(), False))
            for s in rounds[-1][1]:
                await run(s, users, api, args.requests, think=args.think)
        await asyncio.sleep(1.0)  # the last access lines written
    finally:
        for c in clients:
            await c.aclose()
        node.terminate()
        node.wait(30)
    print(f"all-in-one node, SQLite, embedded server; {len(MANAGERS)} managers x {args.cases} cases, "
          f"{args.consultations} consultations and 2 goals each")
    report(rounds, log)
    if args.keep:
        print(f"\nthe node's data and log (node.log): {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)  # kept when something failed: the node's log is in it


if __name__ == "__main__":
    asyncio.run(main())
