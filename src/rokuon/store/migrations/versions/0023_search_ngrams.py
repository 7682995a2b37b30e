"""search_ngrams: an index of each segment's characters and character pairs, so 1- and
2-character queries (解約, 円) use an index instead of scanning — SQLite FTS5 table
``segments_gram_fts``; PostgreSQL a GIN expression index on ``rokuon_grams(norm_text)``
(pg_bigm is not available). Backfilled for every segment already in the text index.

Revision ID: 0023_search_ngrams
Revises: 0022_live_preregistration
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_search_ngrams"
down_revision = "0022_live_preregistration"
branch_labels = None
depends_on = None

BATCH = 2000

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION rokuon_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}'::text[]) FROM (
    SELECT substr(t, i, 1) AS g FROM generate_series(1, length(t)) AS i
    UNION SELECT substr(t, i, 2) FROM generate_series(1, length(t) - 1) AS i) AS x
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # the list's order (PostgreSQL has ix_calls_list_order since 0019; SQLite's
        # DESC already puts NULLs last)
        op.execute("CREATE INDEX ix_calls_list_order_sqlite ON calls "
                   "(started_at DESC, created_at DESC)")
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE segments_gram_fts USING fts5("
                   "grams, segment_id UNINDEXED, call_id UNINDEXED, tokenize='ascii')")
        _backfill(bind)
    elif bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        # the index computes every existing segment's grams: that is the backfill
        op.execute("CREATE INDEX ix_segments_norm_text_grams ON segments "
                   "USING gin (rokuon_grams(norm_text))")


def _backfill(bind: sa.Connection) -> None:
    """Grams for the segments the trigram index holds (current, not held back)."""
    from rokuon.store.search_index import gram_document

    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT s.id, s.call_id, s.norm_text FROM segments s WHERE s.id > :last "
            "AND s.id IN (SELECT segment_id FROM segments_fts) ORDER BY s.id LIMIT :n"),
            {"last": last, "n": BATCH}).all()
        if not rows:
            return
        bind.execute(sa.text("INSERT INTO segments_gram_fts (grams, segment_id, call_id) "
                             "VALUES (:g, :i, :c)"),
                     [{"g": gram_document(r[2] or ""), "i": r[0], "c": r[1]} for r in rows])
        last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_calls_list_order_sqlite")
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS segments_gram_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_segments_norm_text_grams")
        op.execute("DROP FUNCTION IF EXISTS rokuon_grams(text)")
