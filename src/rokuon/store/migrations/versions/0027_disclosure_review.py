"""disclosure_review (reserved; filled in by the change that needs it)

Revision ID: 0027_disclosure_review
Revises: 0026_crm_sms
"""

revision = "0027_disclosure_review"
down_revision = "0026_crm_sms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
