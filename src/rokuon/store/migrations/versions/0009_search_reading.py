"""search by reading: segments.reading (the katakana reading of each utterance, from
rokuon.text.readings) with its own trigram index, filled for the current transcripts

Revision ID: 0009_search_reading
Revises: 0007_auth_hardening
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_search_reading"
down_revision = "0007_auth_hardening"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("segments") as b:
        b.add_column(sa.Column("reading", sa.Text(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE segments_reading_fts USING fts5("
                   "reading, segment_id UNINDEXED, call_id UNINDEXED, tokenize='trigram')")
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_segments_reading_trgm ON segments "
                   "USING gin (reading gin_trgm_ops)")
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    """Readings for the segments of every current transcript (what search sees); on
    SQLite those already in the text index also enter the reading index."""
    from rokuon.text.readings import reading

    sqlite = bind.dialect.name == "sqlite"
    indexed = {r[0] for r in bind.execute(sa.text(
        "SELECT DISTINCT call_id FROM segments_fts"))} if sqlite else set()
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT s.id, s.call_id, s.text FROM segments s JOIN transcripts t "
            "ON t.id = s.transcript_id WHERE t.is_current AND s.id > :last "
            "ORDER BY s.id LIMIT :n"), {"last": last, "n": BATCH}).all()
        if not rows:
            return
        values = [{"i": r[0], "c": r[1], "r": reading(r[2] or "").text_reading()}
                  for r in rows]
        bind.execute(sa.text("UPDATE segments SET reading = :r WHERE id = :i"), values)
        if sqlite:
            todo = [v for v in values if v["c"] in indexed]
            if todo:
                bind.execute(sa.text("INSERT INTO segments_reading_fts (reading, segment_id, "
                                     "call_id) VALUES (:r, :i, :c)"), todo)
        last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS segments_reading_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_segments_reading_trgm")
    with op.batch_alter_table("segments") as b:
        b.drop_column("reading")
