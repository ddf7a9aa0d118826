"""personal fields sealed with the case's key; search terms with a key of their own

The sealed columns hold ciphertext (text, longer than the plaintext) sealed with the case's own key from the
node's key store (crypto-shredding, shared/sealing.py); a search term with its search's key (`subject`).
Rows written before are sealed when the node next starts (shared.sealing.seal_backlog), before it serves.
A downgrade needs the fields opened first.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PERMIT = "cases_erasure_permit"


def upgrade() -> None:
    with op.batch_alter_table("cases_break_glass", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.VARCHAR(length=500), type_=sa.Text(), existing_nullable=False)

    with op.batch_alter_table("cases_case", schema=None) as batch_op:
        batch_op.alter_column(
            "given_name", existing_type=sa.VARCHAR(length=100), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "family_name", existing_type=sa.VARCHAR(length=100), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column("birth_date", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column(
            "nationality", existing_type=sa.VARCHAR(length=3), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column("eligible_since", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column("accommodation_since", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=True)
        batch_op.alter_column(
            "extension_justification", existing_type=sa.VARCHAR(length=1000), type_=sa.Text(), existing_nullable=True
        )

    with op.batch_alter_table("cases_consent", schema=None) as batch_op:
        batch_op.alter_column("partner", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=True)

    with op.batch_alter_table("cases_consultation", schema=None) as batch_op:
        batch_op.alter_column("note", existing_type=sa.VARCHAR(length=4000), type_=sa.Text(), existing_nullable=True)

    with op.batch_alter_table("cases_information_sheet", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.VARCHAR(length=3), type_=sa.Text(), existing_nullable=False)

    # The search log is append-only: its earlier rows get their keys' names under the erasure's permit.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases_search")}  # adopted: may have it
    with op.batch_alter_table("cases_search", schema=None) as batch_op:
        if "subject" not in present:
            batch_op.add_column(sa.Column("subject", sa.String(length=26), nullable=True))
        batch_op.alter_column("term", existing_type=sa.VARCHAR(length=100), type_=sa.Text(), existing_nullable=False)
    _append_only()  # SQLite rebuilt the table without its triggers
    op.execute(f"INSERT INTO {PERMIT} DEFAULT VALUES")
    op.execute("UPDATE cases_search SET subject = 'search-' || CAST(id AS VARCHAR(19)) WHERE subject IS NULL")
    op.execute(f"DELETE FROM {PERMIT}")
    with op.batch_alter_table("cases_search", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=26), nullable=False)
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL's triggers survive an ALTER TABLE
        for change in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS cases_search_no_{change.lower()} BEFORE {change} ON cases_search "
                f"WHEN NOT EXISTS (SELECT 1 FROM {PERMIT}) "
                "BEGIN SELECT RAISE(ABORT, 'cases_search is append-only'); END"
            )


def downgrade() -> None:
    with op.batch_alter_table("cases_search", schema=None) as batch_op:
        batch_op.alter_column("term", existing_type=sa.Text(), type_=sa.VARCHAR(length=100), existing_nullable=False)
        batch_op.drop_column("subject")
    _append_only()

    with op.batch_alter_table("cases_information_sheet", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.Text(), type_=sa.VARCHAR(length=3), existing_nullable=False)

    with op.batch_alter_table("cases_consultation", schema=None) as batch_op:
        batch_op.alter_column("note", existing_type=sa.Text(), type_=sa.VARCHAR(length=4000), existing_nullable=True)

    with op.batch_alter_table("cases_consent", schema=None) as batch_op:
        batch_op.alter_column("partner", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=True)

    with op.batch_alter_table("cases_case", schema=None) as batch_op:
        batch_op.alter_column(
            "extension_justification", existing_type=sa.Text(), type_=sa.VARCHAR(length=1000), existing_nullable=True
        )
        batch_op.alter_column("accommodation_since", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=True)
        batch_op.alter_column("eligible_since", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=False)
        batch_op.alter_column(
            "nationality", existing_type=sa.Text(), type_=sa.VARCHAR(length=3), existing_nullable=False
        )
        batch_op.alter_column("birth_date", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=False)
        batch_op.alter_column(
            "family_name", existing_type=sa.Text(), type_=sa.VARCHAR(length=100), existing_nullable=False
        )
        batch_op.alter_column(
            "given_name", existing_type=sa.Text(), type_=sa.VARCHAR(length=100), existing_nullable=False
        )

    with op.batch_alter_table("cases_break_glass", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.Text(), type_=sa.VARCHAR(length=500), existing_nullable=False)
