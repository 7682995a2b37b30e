"""Metadata registered ahead of a live call (Asterisk AudioSocket sends only a UUID)

Revision ID: 0022_live_preregistration
Revises: 0021_live_rules
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_live_preregistration"
down_revision = "0021_live_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_preregistrations",
        sa.Column("stream_key", sa.String(100), primary_key=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_preregistrations")
