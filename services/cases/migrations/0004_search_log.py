"""the search log: every search for a case by name or birth date, append-only like the audit trail

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REFUSAL = "cases_search is append-only"


def upgrade() -> None:
    op.create_table(
        "cases_search",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("tenants", sa.String(length=255), nullable=False),
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION cases_search_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$")
        op.execute("DROP TRIGGER IF EXISTS cases_search_no_change ON cases_search")
        op.execute("DROP TRIGGER IF EXISTS cases_search_no_truncate ON cases_search")
        op.execute("CREATE TRIGGER cases_search_no_change BEFORE UPDATE OR DELETE ON cases_search "
                   "FOR EACH ROW EXECUTE FUNCTION cases_search_append_only()")
        op.execute("CREATE TRIGGER cases_search_no_truncate BEFORE TRUNCATE ON cases_search "
                   "FOR EACH STATEMENT EXECUTE FUNCTION cases_search_append_only()")
        return
    for change in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER IF NOT EXISTS cases_search_no_{change.lower()} BEFORE {change} "
                   f"ON cases_search BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    op.drop_table("cases_search")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cases_search_append_only()")
