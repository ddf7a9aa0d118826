"""personal fields sealed with the plan's key

The sealed columns hold ciphertext (text, longer than the plaintext) sealed with the plan's own key from the
node's key store (crypto-shredding, shared/sealing.py). Rows written before are sealed when the node next
starts (shared.sealing.seal_backlog), before it serves. A downgrade needs the fields opened first.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans_goal", schema=None) as batch_op:
        batch_op.alter_column("title", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column("target_date", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=True)

    with op.batch_alter_table("plans_plan", schema=None) as batch_op:
        batch_op.alter_column("last_contact_on", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=True)
        batch_op.alter_column("review_on", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=True)

    with op.batch_alter_table("plans_step", schema=None) as batch_op:
        batch_op.alter_column("what", existing_type=sa.VARCHAR(length=300), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column("due_on", existing_type=sa.DATE(), type_=sa.Text(), existing_nullable=True)

    with op.batch_alter_table("plans_version", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.VARCHAR(length=3), type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("plans_version", schema=None) as batch_op:
        batch_op.alter_column("language", existing_type=sa.Text(), type_=sa.VARCHAR(length=3), existing_nullable=False)

    with op.batch_alter_table("plans_step", schema=None) as batch_op:
        batch_op.alter_column("due_on", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=True)
        batch_op.alter_column("what", existing_type=sa.Text(), type_=sa.VARCHAR(length=300), existing_nullable=False)

    with op.batch_alter_table("plans_plan", schema=None) as batch_op:
        batch_op.alter_column("review_on", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=True)
        batch_op.alter_column("last_contact_on", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=True)

    with op.batch_alter_table("plans_goal", schema=None) as batch_op:
        batch_op.alter_column("target_date", existing_type=sa.Text(), type_=sa.DATE(), existing_nullable=True)
        batch_op.alter_column("title", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=False)
