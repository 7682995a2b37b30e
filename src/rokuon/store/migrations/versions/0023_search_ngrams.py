"""search_ngrams (reserved; filled in by the change that needs it)

Revision ID: 0023_search_ngrams
Revises: 0022_live_preregistration
"""

revision = "0023_search_ngrams"
down_revision = "0022_live_preregistration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
