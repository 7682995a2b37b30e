"""PCI quarantine: a call whose card-data masking failed or was unsure is held out of
search and playback and flagged to administrators until someone reviews it

Revision ID: 0011_pci_quarantine
Revises: 0010_transcript_provenance
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_pci_quarantine"
down_revision = "0010_transcript_provenance"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # plain ALTER TABLE (no batch copy): on SQLite a batch rebuild of ``calls`` would drop
    # the table, and with foreign keys on that cascades into every call's rows
    op.add_column("calls", sa.Column("quarantined_at", TZ, nullable=True))
    op.add_column("calls", sa.Column("quarantine_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("calls", "quarantine_reason")  # SQLite ≥ 3.35 drops a column in place
    op.drop_column("calls", "quarantined_at")
