"""The plan's audit trail on PostgreSQL: the migrations' triggers refuse UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from shared.migrations.history import history_for
from shared.migrations.runner import upgrade


def test_the_plan_audit_trail_is_append_only_on_postgres(postgres_url: str) -> None:
    upgrade(history_for("plans", "municipal"), postgres_url)
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO plans_audit (at, actor, action, case_id, plan_id, tenant) "
                              "VALUES (now(), 'm1', 'read', 'c1', 'p1', '08111000')"))
        for statement in ("UPDATE plans_audit SET actor = 'x'", "DELETE FROM plans_audit", "TRUNCATE plans_audit"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM plans_audit")).scalars().all() == ["m1"]
    finally:
        engine.dispose()
