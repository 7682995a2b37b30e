"""The full-text index over segments — the one place that knows how it is stored.

SQLite: an FTS5 table ``segments_fts`` with the trigram tokenizer, filled by the
pipeline's index step and emptied when a call is erased. PostgreSQL: a pg_trgm GIN
index on ``segments.norm_text`` that the database maintains itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, column, text
from sqlalchemy.orm import Session

from rokuon.store.models import Segment

MIN_TRIGRAM = 3  # shorter queries cannot use a trigram index: they scan


def _fts(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def drop_call(session: Session, call_id: str) -> None:
    if _fts(session):
        session.execute(text("DELETE FROM segments_fts WHERE call_id = :c"), {"c": call_id})


def index_transcript(session: Session, call_id: str, transcript_id: int | None) -> None:
    """Replace the call's index entries by the segments of this transcript."""
    drop_call(session, call_id)
    if _fts(session) and transcript_id is not None:
        session.execute(text(
            "INSERT INTO segments_fts (norm_text, segment_id, call_id) "
            "SELECT norm_text, id, call_id FROM segments WHERE transcript_id = :t"
        ), {"t": transcript_id})


def matching(session: Session, needle: str) -> Any:
    """A WHERE clause for segments whose normalised text contains ``needle``."""
    if _fts(session) and len(needle) >= MIN_TRIGRAM:
        phrase = '"' + needle.replace('"', '""') + '"'
        ids = (text("SELECT segment_id FROM segments_fts WHERE segments_fts MATCH :m")
               .bindparams(m=phrase).columns(column("segment_id", Integer)))
        return Segment.id.in_(ids)
    # PostgreSQL: LIKE uses the pg_trgm GIN index for 3+ characters.
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Segment.norm_text.like(f"%{escaped}%", escape="\\")
