"""PCI quarantine: a call whose card-data masking failed or was unsure is held out of
search and playback and flagged to administrators until someone reviews it

Revision ID: 0008_pci_quarantine
Revises: 0010_transcript_provenance
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_pci_quarantine"
down_revision = "0010_transcript_provenance"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("quarantined_at", TZ, nullable=True))
        b.add_column(sa.Column("quarantine_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.drop_column("quarantine_reason")
        b.drop_column("quarantined_at")
