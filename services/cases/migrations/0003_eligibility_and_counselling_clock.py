"""eligibility, household members and the counselling clock

Revision ID: 0003
Revises: 0002
"""

from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


NEW_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("household_members", sa.JSON(), nullable=True),
    sa.Column("eligibility", sa.String(length=30), nullable=True),
    sa.Column("eligible_since", sa.Date(), nullable=True),
    sa.Column("first_consultation_on", sa.Date(), nullable=True),
    sa.Column("counselling_ends_on", sa.Date(), nullable=True),
    sa.Column("counselling_extended_on", sa.Date(), nullable=True),
    sa.Column("extension_justification", sa.String(length=1000), nullable=True),
]


def upgrade() -> None:
    bind = op.get_bind()
    # A database adopted from before migrations may already have the columns: add only what is missing.
    present = {c["name"]: c for c in sa.inspect(bind).get_columns("cases_case")}
    with op.batch_alter_table("cases_case", schema=None) as batch_op:
        for column in NEW_COLUMNS:
            if column.name not in present:
                batch_op.add_column(column)
        if not present["accommodation_since"]["nullable"]:
            batch_op.alter_column("accommodation_since", existing_type=sa.DATE(), nullable=True)
    # Cases opened before: the v1 body recorded follow-up accommodation since accommodation_since.
    op.execute("UPDATE cases_case SET household_members = '[]' WHERE household_members IS NULL")
    op.execute("UPDATE cases_case SET eligibility = 'follow_up_accommodation', eligible_since = accommodation_since "
               "WHERE eligibility IS NULL")
    # Their clock starts at their first consultation, three years on (computed here: 29 Feb differs per SQL).
    firsts = bind.execute(sa.text(
        "SELECT c.case_id, MIN(c.held_on) FROM cases_consultation c JOIN cases_case k ON k.id = c.case_id "
        "WHERE k.first_consultation_on IS NULL GROUP BY c.case_id")).all()
    for case_id, first in firsts:
        first = first if isinstance(first, date) else date.fromisoformat(first)
        bind.execute(sa.text("UPDATE cases_case SET first_consultation_on = :first, counselling_ends_on = :ends "
                             "WHERE id = :id"), {"first": first, "ends": _three_years_after(first), "id": case_id})
    with op.batch_alter_table("cases_case", schema=None) as batch_op:
        batch_op.alter_column("household_members", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("eligibility", existing_type=sa.String(length=30), nullable=False)
        batch_op.alter_column("eligible_since", existing_type=sa.Date(), nullable=False)


def _three_years_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 3)
    except ValueError:
        return day.replace(year=day.year + 3, day=28)


def downgrade() -> None:
    with op.batch_alter_table("cases_case", schema=None) as batch_op:
        batch_op.alter_column("accommodation_since", existing_type=sa.DATE(), nullable=False)
        batch_op.drop_column("extension_justification")
        batch_op.drop_column("counselling_extended_on")
        batch_op.drop_column("counselling_ends_on")
        batch_op.drop_column("first_consultation_on")
        batch_op.drop_column("eligible_since")
        batch_op.drop_column("eligibility")
        batch_op.drop_column("household_members")

