"""disclosure_review: the four-eyes review of a disclosure package

Revision ID: 0027_disclosure_review
Revises: 0026_crm_sms
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_disclosure_review"
down_revision = "0026_crm_sms"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disclosure_reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32),
                  sa.ForeignKey("data_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("agent_voice", sa.String(10), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("built_by", sa.String(320), nullable=False),
        sa.Column("built_at", TZ, nullable=False),
        sa.Column("reviewed_by", sa.String(320), nullable=True),
        sa.Column("reviewed_at", TZ, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_disclosure_reviews_request_id", "disclosure_reviews", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_disclosure_reviews_request_id", table_name="disclosure_reviews")
    op.drop_table("disclosure_reviews")
