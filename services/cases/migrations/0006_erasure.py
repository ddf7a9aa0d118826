"""erasure: a case's erasure record, the retention runs, the permit an erasure's transaction holds, the date
a case was erased; the audit trail and the search log admit the changes of a transaction that holds a permit

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PERMIT = "cases_erasure_permit"
TABLES = ("cases_audit", "cases_search")


def _triggers(permit: str | None) -> None:
    """(Re)create the append-only triggers; with a permit table, its rows' transaction may change rows."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TABLES:
        refusal = f"{name} is append-only"
        if postgresql:  # the triggers call the function: replacing it is enough
            admit = (f"IF TG_OP <> 'TRUNCATE' AND EXISTS (SELECT 1 FROM {permit}) THEN "
                     "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; ") if permit else ""
            op.execute(f"CREATE OR REPLACE FUNCTION {name}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                       f"$$ BEGIN {admit}RAISE EXCEPTION '{refusal}'; END $$")
            continue
        when = f"WHEN NOT EXISTS (SELECT 1 FROM {permit}) " if permit else ""
        for change in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_{change.lower()}")
            op.execute(f"CREATE TRIGGER {name}_no_{change.lower()} BEFORE {change} ON {name} "
                       f"{when}BEGIN SELECT RAISE(ABORT, '{refusal}'); END")


def upgrade() -> None:
    op.create_table(
        PERMIT,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    op.create_table(
        "cases_erasure",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("ground", sa.String(length=10), nullable=False),
        sa.Column("erased_by", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        if_not_exists=True,
    )
    op.create_index("ix_cases_erasure_tenant", "cases_erasure", ["tenant"], if_not_exists=True)
    op.create_table(
        "cases_erasure_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_before", sa.Date(), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("erased", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    if "erased_on" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases_case")}:
        op.add_column("cases_case", sa.Column("erased_on", sa.Date(), nullable=True))
    _triggers(PERMIT)


def downgrade() -> None:
    _triggers(None)
    op.drop_column("cases_case", "erased_on")
    op.drop_table("cases_erasure_run")
    op.drop_index("ix_cases_erasure_tenant", table_name="cases_erasure")
    op.drop_table("cases_erasure")
    op.drop_table(PERMIT)
