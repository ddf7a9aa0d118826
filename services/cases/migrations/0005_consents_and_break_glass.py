"""consent and information (information sheets, consents per purpose) and break-glass grants; audit rows name
the grant an access was made under

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_information_sheet",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("handed_on", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    op.create_index("ix_cases_information_sheet_case_id", "cases_information_sheet", ["case_id"], if_not_exists=True)
    op.create_table(
        "cases_consent",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("partner", sa.String(length=200), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=255), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    op.create_index("ix_cases_consent_case_id", "cases_consent", ["case_id"], if_not_exists=True)
    op.create_table(
        "cases_break_glass",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("manager", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    op.create_index("ix_cases_break_glass_case_id", "cases_break_glass", ["case_id"], if_not_exists=True)
    # Adding a column is no UPDATE, and no batch copy: the audit trail's append-only triggers stay as they are.
    if "break_glass" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases_audit")}:
        op.add_column("cases_audit", sa.Column("break_glass", sa.String(length=26), nullable=True))


def downgrade() -> None:
    op.drop_column("cases_audit", "break_glass")
    op.drop_table("cases_break_glass")
    op.drop_table("cases_consent")
    op.drop_table("cases_information_sheet")
