"""worker_tasks (reserved; filled in by the change that needs it)

Revision ID: 0024_worker_tasks
Revises: 0023_search_ngrams
"""

revision = "0024_worker_tasks"
down_revision = "0023_search_ngrams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
