"""handovers: the state's node directory and the hand-overs of cases between municipalities (the receiving side's
parcel sealed at rest)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_directory",
        sa.Column("node_id", sa.String(length=63), nullable=False),
        sa.Column("tenants", sa.JSON(), nullable=False),
        sa.Column("box_key", sa.String(length=100), nullable=False),
        sa.Column("sign_key", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    op.create_table(
        "cases_handover",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=True),
        sa.Column("from_node", sa.String(length=63), nullable=False),
        sa.Column("from_tenant", sa.String(length=8), nullable=False),
        sa.Column("to_node", sa.String(length=63), nullable=False),
        sa.Column("to_tenant", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("answered_by", sa.String(length=255), nullable=True),
        sa.Column("refusal", sa.String(length=200), nullable=True),
        sa.Column("package", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )
    with op.batch_alter_table("cases_handover", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_handover_case_id"), ["case_id"], unique=False, if_not_exists=True)
        batch_op.create_index(
            batch_op.f("ix_cases_handover_from_tenant"), ["from_tenant"], unique=False, if_not_exists=True
        )
        batch_op.create_index(
            batch_op.f("ix_cases_handover_to_tenant"), ["to_tenant"], unique=False, if_not_exists=True
        )


def downgrade() -> None:
    with op.batch_alter_table("cases_handover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_handover_to_tenant"))
        batch_op.drop_index(batch_op.f("ix_cases_handover_from_tenant"))
        batch_op.drop_index(batch_op.f("ix_cases_handover_case_id"))

    op.drop_table("cases_handover")
    op.drop_table("cases_directory")
