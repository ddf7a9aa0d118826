"""Erasure on PostgreSQL, the production path: the personal fields are sealed at rest in every table, and after
the erasure no table of any service (nor the key store) holds a canary of the case."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import select

from services.plans.models import Plan
from shared import clock
from shared.runtime.embedded import EmbeddedServer
from tests.conftest import POSTGRES_URL
from tests.integration.test_cases_erasure import CASES, PLANS, ok, open_case, the_plan
from tests.nodes import eventually, running_node

STUTTGART = "08111000"
SERVICES = ("cases", "plans", "notifications")
SCHEMAS = (*SERVICES, "keys")
CANARIES = ("Pgkanarie-Vorname", "Pgkanarie-Name", "Pgkanarie-Notiz", "Pgkanarie-Ziel", "Pgkanarie-Schritt")


@pytest.fixture
def schemas() -> Iterator[tuple[str, Engine]]:
    """A fresh schema per service and one for the key store on the local PostgreSQL; skips without one."""
    base = f"lotse_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + "connect_timeout=3")
    try:
        with admin.begin() as conn:
            for name in SCHEMAS:
                conn.execute(text(f"CREATE SCHEMA {base}_{name}"))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({str(exc).splitlines()[0][:120]})")
    try:
        yield base, admin
    finally:
        with admin.begin() as conn:
            for name in SCHEMAS:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {base}_{name} CASCADE"))
        admin.dispose()


def every_row(admin: Engine, base: str) -> str:
    """Every row of every table in the node's schemas, as text."""
    found = []
    with admin.connect() as conn:
        for name in SCHEMAS:
            schema = f"{base}_{name}"
            for table in inspect(conn).get_table_names(schema=schema):
                found += [repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM {schema}."{table}"'))]
    return "\n".join(found)


def test_sealed_at_rest_and_nothing_left_after_an_erasure_on_postgresql(
        schemas: tuple[str, Engine], valkey: EmbeddedServer, tmp_path: Path) -> None:
    base, admin = schemas
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{base}_{{service}}"
    with running_node(tmp_path, valkey.url, services=list(SERVICES), database_url=url, db_auto_upgrade=True,
                      tenants=[STUTTGART]) as node:
        m1, lead = node.headers("m1", "manager", tenants=[STUTTGART]), node.headers("l1", "lead", tenants=[STUTTGART])
        cid = open_case(node, m1, "Pgkanarie-Vorname", "Pgkanarie-Name")
        ok(node.client.post(f"{CASES}/cases/{cid}/consultations", headers=m1, json={
            "held_on": "2024-03-01", "duration_minutes": 30, "mode": "office", "topics": ["work"],
            "note": "Pgkanarie-Notiz"}), 201)
        plan = the_plan(node, m1, cid)
        goal = ok(node.client.post(f"{PLANS}/plans/{plan['id']}/goals", headers=m1, json={
            "area": "work", "title": "Pgkanarie-Ziel"}), 201)
        ok(node.client.post(f"{PLANS}/plans/{plan['id']}/goals/{goal['id']}/steps", headers=m1, json={
            "what": "Pgkanarie-Schritt", "who": "client"}), 201)
        assert [c["given_name"] for c in ok(node.client.get(f"{CASES}/cases", headers=lead, params={
            "q": "pgkanarie-vorname"}))["items"]] == ["Pgkanarie-Vorname"]  # found, though sealed in the table
        held = every_row(admin, base)
        assert "enc1:" in held and [c for c in CANARIES if c in held] == []  # sealed at rest from the start

        ok(node.client.post(f"{CASES}/cases/{cid}/close", headers=m1, json={"reason": "moved_away"}))
        ok(node.client.post(f"{CASES}/cases/{cid}/erase", headers=lead,
                            json={"reason": "Antrag der Klientin vom " + clock.today().isoformat()}), 202)

        def plan_erased() -> bool:
            with node.node.contexts["plans"].database.session() as s:
                row: Any = s.exec(select(Plan).where(Plan.case_id == cid)).first()
                return row is not None and row.erased_on is not None

        eventually(plan_erased, timeout=30)
        with admin.connect() as conn:  # the case's key is destroyed: a tombstone without a key
            keys = conn.execute(text(f"SELECT key FROM {base}_keys.subject_key WHERE subject_id = :id"),
                                {"id": cid}).all()
        assert keys == [(None,)]
        left = every_row(admin, base)
        assert [c for c in CANARIES if c in left] == []
        assert cid in left  # the case's shell and what the figures count stay
