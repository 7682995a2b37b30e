"""The full-text index over segments — the one place that knows how it is stored.

Two indexes: the normalised text (``segments.norm_text``) and the katakana reading
(``segments.reading``, from ``rokuon.text.readings``, written by the pipeline's index
step), so a search for 解約 also finds 開約 (カイヤク).

SQLite: FTS5 tables ``segments_fts`` and ``segments_reading_fts`` with the trigram
tokenizer, filled by the index step and emptied when a call is erased. PostgreSQL:
pg_trgm GIN indexes on ``segments.norm_text`` and ``segments.reading`` that the
database maintains itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, column, or_, select, text
from sqlalchemy.orm import Session

from rokuon.store.models import Segment

MIN_TRIGRAM = 3  # shorter queries cannot use a trigram index: they scan


def _fts(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def drop_call(session: Session, call_id: str) -> None:
    if _fts(session):
        session.execute(text("DELETE FROM segments_fts WHERE call_id = :c"), {"c": call_id})
        session.execute(text("DELETE FROM segments_reading_fts WHERE call_id = :c"),
                        {"c": call_id})


def index_transcript(session: Session, call_id: str, transcript_id: int | None) -> None:
    """Replace the call's index entries by the segments of this transcript, writing
    each segment's reading first."""
    from rokuon.text.readings import reading

    drop_call(session, call_id)
    if transcript_id is None:
        return
    for seg in session.scalars(select(Segment).where(Segment.transcript_id == transcript_id)):
        seg.reading = reading(seg.text or "").text_reading()
    session.flush()
    if _fts(session):
        session.execute(text(
            "INSERT INTO segments_fts (norm_text, segment_id, call_id) "
            "SELECT norm_text, id, call_id FROM segments WHERE transcript_id = :t"
        ), {"t": transcript_id})
        session.execute(text(
            "INSERT INTO segments_reading_fts (reading, segment_id, call_id) "
            "SELECT reading, id, call_id FROM segments WHERE transcript_id = :t"
        ), {"t": transcript_id})


def _contains(session: Session, table: str, col: Any, needle: str) -> Any:
    if _fts(session) and len(needle) >= MIN_TRIGRAM:
        phrase = '"' + needle.replace('"', '""') + '"'
        ids = (text(f"SELECT segment_id FROM {table} WHERE {table} MATCH :{table}")
               .bindparams(**{table: phrase}).columns(column("segment_id", Integer)))
        return Segment.id.in_(ids)
    # PostgreSQL: LIKE uses the pg_trgm GIN index for 3+ characters.
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col.like(f"%{escaped}%", escape="\\")


def matching(session: Session, needle: str, reading: str | None = None) -> Any:
    """A WHERE clause for segments whose normalised text contains ``needle`` — or,
    given a ``reading``, whose reading contains it (candidates: the caller checks a
    reading match on word boundaries)."""
    by_text = _contains(session, "segments_fts", Segment.norm_text, needle)
    if not reading:
        return by_text
    return or_(by_text, _contains(session, "segments_reading_fts", Segment.reading, reading))
