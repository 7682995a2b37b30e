"""crm_sms: the CRM activity outbox, after-call SMS messages and the SMS opt-out list

Revision ID: 0026_crm_sms
Revises: 0023_search_ngrams
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_crm_sms"
down_revision = "0023_search_ngrams"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(100), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.UniqueConstraint("target", "call_id"),
    )
    op.create_index("ix_crm_deliveries_due", "crm_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider_id", sa.String(100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    op.drop_table("sms_messages")
    op.drop_index("ix_crm_deliveries_due", table_name="crm_deliveries")
    op.drop_table("crm_deliveries")
