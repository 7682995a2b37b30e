"""Coaching: comments and bookmarks at a moment of a call, QA criterion overrides

Revision ID: 0017_coaching
Revises: 0016_webhooks_alerts
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_coaching"
down_revision = "0016_webhooks_alerts"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("parent_id", sa.Integer(),
                  sa.ForeignKey("call_comments.id", ondelete="CASCADE"), nullable=True,
                  index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("author_role", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("acknowledged_by", sa.String(320), nullable=True),
        sa.Column("acknowledged_at", TZ, nullable=True),
    )
    op.create_table(
        "qa_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("criterion", sa.String(100), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(320), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.UniqueConstraint("call_id", "criterion"),
    )


def downgrade() -> None:
    op.drop_table("qa_overrides")
    op.drop_table("call_comments")
