"""CDR reconciliation (imported call detail records, import log, reconciliation runs)
and the breach-report workflow (漏えい等報告: incidents and notices to persons)

Revision ID: 0012_cdr_breach
Revises: 0011_pci_quarantine
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_cdr_breach"
down_revision = "0011_pci_quarantine"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cdr_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
        sa.Column("imported_by", sa.String(320), nullable=False),
    )
    op.create_table(
        "cdr_records",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("unique_id", sa.String(200), nullable=False),
        sa.Column("related_id", sa.String(200), nullable=True, index=True),
        sa.Column("started_at", TZ, nullable=False, index=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(20), nullable=False, index=True),
        sa.Column("raw_status", sa.String(50), nullable=True),
        sa.Column("src", sa.String(200), nullable=True),
        sa.Column("dst", sa.String(200), nullable=True),
        sa.Column("direction", sa.String(20), nullable=True),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("dst_channel", sa.String(200), nullable=True),
        sa.Column("queue", sa.String(200), nullable=True),
        sa.Column("account", sa.String(100), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True, index=True),
        sa.Column("imported_at", TZ, nullable=False),
        sa.UniqueConstraint("source", "unique_id"),
    )
    op.create_table(
        "cdr_reconcile_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("ran_at", TZ, nullable=False, index=True),
        sa.Column("ran_by", sa.String(320), nullable=False),
        sa.Column("period_from", TZ, nullable=True),
        sa.Column("period_to", TZ, nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_recordings", sa.Integer(), nullable=False),
        sa.Column("recordings_without_cdr", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "breach_incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("discovered_at", TZ, nullable=False, index=True),
        sa.Column("occurred_from", TZ, nullable=True),
        sa.Column("occurred_to", TZ, nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("unauthorized_access", sa.Boolean(), nullable=False),
        sa.Column("data_items", sa.JSON(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("secondary_damage", sa.Text(), nullable=True),
        sa.Column("prevention", sa.Text(), nullable=True),
        sa.Column("response_to_persons", sa.Text(), nullable=True),
        sa.Column("preliminary_reported_at", TZ, nullable=True),
        sa.Column("final_reported_at", TZ, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "breach_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("incident_id", sa.String(32),
                  sa.ForeignKey("breach_incidents.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("call_ids", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("notified_at", TZ, nullable=False),
        sa.Column("notified_by", sa.String(320), nullable=False),
        sa.UniqueConstraint("incident_id", "person"),
    )


def downgrade() -> None:
    for table in ("breach_notices", "breach_incidents", "cdr_reconcile_runs",
                  "cdr_records", "cdr_imports"):
        op.drop_table(table)
