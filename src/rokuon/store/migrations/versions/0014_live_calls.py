"""Live calls: a call being captured from telephony (Twilio Media Streams, generic
WebSocket), its encrypted spool and its pauses, until it becomes a normal call

Revision ID: 0014_live_calls
Revises: 0012_cdr_breach
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_live_calls"
down_revision = "0012_cdr_breach"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "live_calls",
        sa.Column("id", sa.String(32), primary_key=True),  # the call id it will have
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("call_metadata", sa.JSON(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("spool", sa.String(300), nullable=False),
        sa.Column("paused", sa.JSON(), nullable=False),
        sa.Column("received_s", sa.Float(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_calls")
