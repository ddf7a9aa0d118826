"""box keys: each node's public X25519 key (hand-over parcels are sealed for it) and its municipalities and signing key
as the last node directory sent down listed them

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("federation_node")}  # adopted: may have them
    with op.batch_alter_table("federation_node", schema=None) as batch_op:
        if "box_key" not in present:
            batch_op.add_column(sa.Column("box_key", sa.String(length=100), nullable=True))
        if "listed" not in present:
            batch_op.add_column(sa.Column("listed", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federation_node", schema=None) as batch_op:
        batch_op.drop_column("listed")
        batch_op.drop_column("box_key")
