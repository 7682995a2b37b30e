"""The call list: a PII flag in the report figures (filled from the newest analysis of
calls analysed before), saved views of the list per user, indexes for the list's order
and the team scope

Revision ID: 0019_call_list
Revises: 0018_faq
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_call_list"
down_revision = "0018_faq"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("call_kpis") as batch:
        batch.add_column(sa.Column("pii", sa.Integer(), nullable=True))
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(320), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.String(2000), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("owner", "name"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # the list's default order and the door's team scope, served by indexes
        op.create_index("ix_calls_list_order", "calls", [
            sa.text("started_at DESC NULLS LAST"), sa.text("created_at DESC"),
            sa.text("id DESC")])
        op.create_index("ix_calls_team", "calls", [sa.text("(extra_metadata ->> 'team')")])
    op.create_index("ix_calls_queue", "calls", ["queue"])
    _backfill()


def _backfill() -> None:
    """The PII count of every call with figures, from its newest ``pii`` result."""
    from rokuon.reports.figures import pii_count

    conn = op.get_bind()
    results = sa.table("analysis_results", sa.column("call_id", sa.String),
                       sa.column("analyzer", sa.String), sa.column("version", sa.Integer),
                       sa.column("payload", sa.JSON))
    kpis = sa.table("call_kpis", sa.column("call_id", sa.String),
                    sa.column("pii", sa.Integer))
    newest: dict[str, object] = {}
    for cid, payload in conn.execute(
            sa.select(results.c.call_id, results.c.payload)
            .where(results.c.analyzer == "pii")
            .order_by(results.c.call_id, results.c.version)):
        newest[cid] = payload  # the newest version comes last
    items = [(cid, pii_count({"pii": p})) for cid, p in newest.items()]
    for i in range(0, len(items), BATCH):
        for cid, n in items[i:i + BATCH]:
            conn.execute(kpis.update().where(kpis.c.call_id == cid).values(pii=n))


def downgrade() -> None:
    op.drop_index("ix_calls_queue", table_name="calls")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_calls_team", table_name="calls")
        op.drop_index("ix_calls_list_order", table_name="calls")
    op.drop_table("saved_views")
    with op.batch_alter_table("call_kpis") as batch:
        batch.drop_column("pii")
