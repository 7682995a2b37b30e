"""data subject requests, disclosure exports, third-party provision records,
transcript corrections, stop-use

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("use_stopped_at", TZ, nullable=True))
        b.add_column(sa.Column("use_stopped_reason", sa.Text(), nullable=True))
    op.create_table(
        "data_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("customer_number", sa.String(64), nullable=True, index=True),
        sa.Column("customer_name", sa.String(200), nullable=True),
        sa.Column("contact", sa.String(320), nullable=True),
        sa.Column("date_from", TZ, nullable=True),
        sa.Column("date_to", TZ, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("identity", sa.JSON(), nullable=True),
        sa.Column("fee_yen", sa.Integer(), nullable=True),
        sa.Column("fee_paid_at", TZ, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
    )
    op.create_table(
        "data_request_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("request_id", sa.String(32),
                  sa.ForeignKey("data_requests.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("call_id", sa.String(32), nullable=False, index=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.UniqueConstraint("request_id", "call_id"),
    )
    op.create_table(
        "disclosure_exports",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("request_id", sa.String(32),
                  sa.ForeignKey("data_requests.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("blob_key", sa.String(300), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
    )
    op.create_table(
        "third_party_provisions",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("call_ids", sa.JSON(), nullable=False),
        sa.Column("provided_at", TZ, nullable=False),
        sa.Column("recorded_by", sa.String(320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "transcript_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("segment_idx", sa.Integer(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=False),
        sa.Column("corrected_text", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("corrected_by", sa.String(320), nullable=False),
        sa.Column("corrected_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for t in ("transcript_corrections", "third_party_provisions", "disclosure_exports",
              "data_request_calls", "data_requests"):
        op.drop_table(t)
    with op.batch_alter_table("calls") as b:
        b.drop_column("use_stopped_reason")
        b.drop_column("use_stopped_at")
