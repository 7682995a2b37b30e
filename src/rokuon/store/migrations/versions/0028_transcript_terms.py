"""Each transcript's VOC terms, so the topic report tokenises a call once

Revision ID: 0028_transcript_terms
Revises: 0027_disclosure_review
"""

import sqlalchemy as sa
from alembic import op

revision = "0028_transcript_terms"
down_revision = "0027_disclosure_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcript_terms",
        sa.Column("transcript_id", sa.Integer(),
                  sa.ForeignKey("transcripts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
    )
    op.create_index("ix_transcript_terms_call_id", "transcript_terms", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_transcript_terms_call_id", table_name="transcript_terms")
    op.drop_table("transcript_terms")
