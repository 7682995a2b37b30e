"""call_summaries (reserved; filled in by the change that needs it)

Revision ID: 0025_call_summaries
Revises: 0024_worker_tasks
"""

revision = "0025_call_summaries"
down_revision = "0024_worker_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
