"""handovers: plans handed over by another municipality's node, kept as they came until the case's lead answers

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans_handover",
        sa.Column("handover_id", sa.String(length=26), nullable=False),
        sa.Column("from_node", sa.String(length=63), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(length=26), nullable=True),
        sa.Column("sender_sign_key", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("handover_id"),
        if_not_exists=True,  # an adopted database from before migrations may have it
    )


def downgrade() -> None:
    op.drop_table("plans_handover")
