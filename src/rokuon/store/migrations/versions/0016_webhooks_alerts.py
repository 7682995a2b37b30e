"""Outbound webhooks (Standard Webhooks, Slack): endpoints and the delivery outbox;
alerts on calls (one per call + rule + kind)

Revision ID: 0016_webhooks_alerts
Revises: 0015_call_kpis
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_webhooks_alerts"
down_revision = "0015_call_kpis"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("wrapped_secret", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.String(32),
                  sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("event_id", sa.String(40), nullable=False, index=True),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("call_id", sa.String(32), nullable=True, index=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("speaker", sa.String(50), nullable=True),
        sa.Column("start", sa.Float(), nullable=True),
        sa.Column("end", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("acknowledged_by", sa.String(320), nullable=True),
        sa.Column("acknowledged_at", TZ, nullable=True),
        sa.UniqueConstraint("call_id", "rule", "kind"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
