"""legal holds

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("call_id", sa.String(32), nullable=True, index=True),
        sa.Column("customer_number", sa.String(64), nullable=True, index=True),
        sa.Column("date_from", TZ, nullable=True),
        sa.Column("date_to", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("released_at", TZ, nullable=True),
        sa.Column("released_by", sa.String(320), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("legal_holds")
