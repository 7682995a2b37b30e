"""crm_sms (reserved; filled in by the change that needs it)

Revision ID: 0026_crm_sms
Revises: 0025_call_summaries
"""

revision = "0026_crm_sms"
down_revision = "0025_call_summaries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
