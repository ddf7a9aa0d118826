"""eligibility, household members counselled alongside and the extension of the nodes' cases

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database adopted from before migrations may already have the columns: add only what is missing.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases_state_case")}
    with op.batch_alter_table("cases_state_case", schema=None) as batch_op:
        if "eligibility" not in present:
            batch_op.add_column(sa.Column("eligibility", sa.String(length=30), nullable=True))
        if "household_members" not in present:  # cases known before: none counted alongside
            batch_op.add_column(sa.Column("household_members", sa.Integer(), nullable=False, server_default="0"))
        if "counselling_extended_on" not in present:
            batch_op.add_column(sa.Column("counselling_extended_on", sa.Date(), nullable=True))
    if "household_members" not in present:
        with op.batch_alter_table("cases_state_case", schema=None) as batch_op:
            batch_op.alter_column("household_members", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("cases_state_case", schema=None) as batch_op:
        batch_op.drop_column("counselling_extended_on")
        batch_op.drop_column("household_members")
        batch_op.drop_column("eligibility")
