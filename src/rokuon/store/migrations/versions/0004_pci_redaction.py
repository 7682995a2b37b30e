"""PCI redaction: the stored audio may be a bleeped copy of the original

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as b:
        # sha256 of the stored blob when it is not the original (bleeped); NULL = original
        b.add_column(sa.Column("blob_sha256", sa.String(64), nullable=True))
        b.add_column(sa.Column("redactions", sa.JSON(), nullable=True))
    with op.batch_alter_table("transcripts") as b:
        b.add_column(sa.Column("redactions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcripts") as b:
        b.drop_column("redactions")
    with op.batch_alter_table("calls") as b:
        b.drop_column("redactions")
        b.drop_column("blob_sha256")
