"""Real-time rules as data: versions of the live rule set edited in the browser

Revision ID: 0021_live_rules
Revises: 0020_scorecards
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_live_rules"
down_revision = "0020_scorecards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_rule_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer(), nullable=False, unique=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_rule_versions")
