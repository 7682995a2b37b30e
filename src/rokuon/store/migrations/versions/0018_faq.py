"""FAQ assist: the knowledge base of question/answer entries

Revision ID: 0018_faq
Revises: 0017_coaching
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_faq"
down_revision = "0017_coaching"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, index=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.Column("updated_at", TZ, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("faq_entries")
