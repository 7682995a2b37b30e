"""Report figures per call (call_kpis) and keyword hits per call (call_keyword_hits),
filled here for the calls analysed before; the analyze step keeps them up to date

Revision ID: 0015_call_kpis
Revises: 0014_live_calls
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_call_kpis"
down_revision = "0014_live_calls"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
BATCH = 500


def upgrade() -> None:
    kpis = op.create_table(
        "call_kpis",
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("agent_talk_s", sa.Float(), nullable=True),
        sa.Column("customer_talk_s", sa.Float(), nullable=True),
        sa.Column("agent_share", sa.Float(), nullable=True),
        sa.Column("silence_s", sa.Float(), nullable=True),
        sa.Column("hold_s", sa.Float(), nullable=True),
        sa.Column("overlap_s", sa.Float(), nullable=True),
        sa.Column("interruptions", sa.Integer(), nullable=True),
        sa.Column("fillers", sa.Integer(), nullable=True),
        sa.Column("qa_score", sa.Float(), nullable=True),
        sa.Column("qa_passed", sa.Boolean(), nullable=True),
        sa.Column("complaint", sa.Boolean(), nullable=True),
        sa.Column("churn", sa.Boolean(), nullable=True),
        sa.Column("negative", sa.Boolean(), nullable=True),
        sa.Column("announced", sa.Boolean(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    hits = op.create_table(
        "call_keyword_hits",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("list", sa.String(50), nullable=False),
        sa.Column("word", sa.String(200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.UniqueConstraint("call_id", "list", "word"),
    )
    op.create_index("ix_call_keyword_hits_word", "call_keyword_hits", ["list", "word"])
    _backfill(kpis, hits)


def _backfill(kpis: sa.Table, hits: sa.Table) -> None:
    """Figures for every call analysed before this revision, from its newest analysis
    results (the same extraction the analyze step uses)."""
    from datetime import UTC, datetime

    from rokuon.reports.figures import ANALYZERS, figures, keyword_hits

    conn = op.get_bind()
    results = sa.table("analysis_results", sa.column("call_id", sa.String),
                       sa.column("analyzer", sa.String), sa.column("version", sa.Integer),
                       sa.column("payload", sa.JSON))
    ids = [r[0] for r in conn.execute(sa.select(results.c.call_id).distinct()
                                      .order_by(results.c.call_id))]
    now = datetime.now(UTC)
    for i in range(0, len(ids), BATCH):
        batch = ids[i:i + BATCH]
        per_call: dict[str, dict[str, Any]] = {cid: {} for cid in batch}
        rows = conn.execute(sa.select(results.c.call_id, results.c.analyzer,
                                      results.c.payload)
                            .where(results.c.call_id.in_(batch),
                                   results.c.analyzer.in_(ANALYZERS))
                            .order_by(results.c.call_id, results.c.analyzer,
                                      results.c.version))
        for cid, analyzer, payload in rows:
            per_call[cid][analyzer] = payload  # the newest version comes last
        # only this revision's columns (later revisions add figures and fill them)
        conn.execute(kpis.insert(), [{"call_id": cid, "updated_at": now,
                                      **{k: v for k, v in figures(a).items() if k in kpis.c}}
                                     for cid, a in per_call.items()])
        words = [{"call_id": cid, "list": lst, "word": word, "hits": n}
                 for cid, a in per_call.items()
                 for (lst, word), n in sorted(keyword_hits(a).items())]
        if words:
            conn.execute(hits.insert(), words)


def downgrade() -> None:
    op.drop_index("ix_call_keyword_hits_word", table_name="call_keyword_hits")
    op.drop_table("call_keyword_hits")
    op.drop_table("call_kpis")
