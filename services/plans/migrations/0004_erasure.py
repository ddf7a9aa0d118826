"""erasure and break-glass: the date a plan's texts were erased with its case, the permit an erasure's transaction
holds (the audit trail admits that transaction's changes), stand-ins' accesses and the audit rows made under them

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PERMIT = "plans_erasure_permit"
REFUSAL = "plans_audit is append-only"


def _triggers(permit: str | None) -> None:
    """(Re)create the audit trail's append-only triggers; with a permit table, its rows' transaction may change."""
    if op.get_bind().dialect.name == "postgresql":  # the triggers call the function: replacing it is enough
        admit = (f"IF TG_OP <> 'TRUNCATE' AND EXISTS (SELECT 1 FROM {permit}) THEN "
                 "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; ") if permit else ""
        op.execute("CREATE OR REPLACE FUNCTION plans_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {admit}RAISE EXCEPTION '{REFUSAL}'; END $$")
        return
    when = f"WHEN NOT EXISTS (SELECT 1 FROM {permit}) " if permit else ""
    for change in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS plans_audit_no_{change.lower()}")
        op.execute(f"CREATE TRIGGER plans_audit_no_{change.lower()} BEFORE {change} ON plans_audit "
                   f"{when}BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def upgrade() -> None:
    op.create_table(
        PERMIT,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    if "erased_on" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plans_plan")}:
        op.add_column("plans_plan", sa.Column("erased_on", sa.Date(), nullable=True))
    op.create_table(
        "plans_stand_in",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("manager", sa.String(length=255), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index("ix_plans_stand_in_case_id", "plans_stand_in", ["case_id"], if_not_exists=True)
    # Adding a column is no UPDATE, and no batch copy: the append-only triggers stay as they are.
    if "break_glass" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plans_audit")}:
        op.add_column("plans_audit", sa.Column("break_glass", sa.String(length=26), nullable=True))
    _triggers(PERMIT)


def downgrade() -> None:
    _triggers(None)
    op.drop_column("plans_audit", "break_glass")
    op.drop_index("ix_plans_stand_in_case_id", table_name="plans_stand_in")
    op.drop_table("plans_stand_in")
    op.drop_column("plans_plan", "erased_on")
    op.drop_table(PERMIT)
