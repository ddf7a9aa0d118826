"""the audit trail refuses UPDATE, DELETE (and TRUNCATE) in the database itself

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REFUSAL = "cases_audit is append-only"


def upgrade() -> None:
    # Databases adopted from before migrations already carry these triggers: replace, never fail.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION cases_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$")
        op.execute("DROP TRIGGER IF EXISTS cases_audit_no_change ON cases_audit")
        op.execute("CREATE TRIGGER cases_audit_no_change BEFORE UPDATE OR DELETE ON cases_audit "
                   "FOR EACH ROW EXECUTE FUNCTION cases_audit_append_only()")
        op.execute("DROP TRIGGER IF EXISTS cases_audit_no_truncate ON cases_audit")
        op.execute("CREATE TRIGGER cases_audit_no_truncate BEFORE TRUNCATE ON cases_audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION cases_audit_append_only()")
        return
    for change in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER IF NOT EXISTS cases_audit_no_{change.lower()} BEFORE {change} "
                   f"ON cases_audit BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cases_audit_no_change ON cases_audit")
        op.execute("DROP TRIGGER IF EXISTS cases_audit_no_truncate ON cases_audit")
        op.execute("DROP FUNCTION IF EXISTS cases_audit_append_only()")
        return
    for change in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS cases_audit_no_{change}")
