"""Scorecards as data: versions edited in the browser, re-score runs and their deltas

Revision ID: 0020_scorecards
Revises: 0019_call_list
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_scorecards"
down_revision = "0019_call_list"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scorecard_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(60), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("pass_score", sa.Float(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("name", "version"),
    )
    op.create_table(
        "rescore_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(60), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("since", TZ),
        sa.Column("until", TZ),
        sa.Column("requested_by", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", TZ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("finished_at", TZ),
    )
    op.create_table(
        "rescore_deltas",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("rescore_runs.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("old_score", sa.Float()),
        sa.Column("new_score", sa.Float()),
        sa.Column("old_passed", sa.Boolean()),
        sa.Column("new_passed", sa.Boolean()),
        sa.Column("old_version", sa.Integer()),
        sa.UniqueConstraint("run_id", "call_id"),
    )


def downgrade() -> None:
    op.drop_table("rescore_deltas")
    op.drop_table("rescore_runs")
    op.drop_table("scorecard_versions")
