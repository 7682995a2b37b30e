"""transcripts record what produced them (model hash, decoding options, numerics, code);
segments record their language (a stretch in another language, or unintelligible)

Revision ID: 0010_transcript_provenance
Revises: 0009_search_reading
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_transcript_provenance"
down_revision = "0009_search_reading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transcripts") as b:
        b.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    with op.batch_alter_table("segments") as b:
        b.add_column(sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments") as b:
        b.drop_column("language")
    with op.batch_alter_table("transcripts") as b:
        b.drop_column("provenance")
