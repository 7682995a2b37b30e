"""The full-text index over segments — the one place that knows how it is stored.

Two indexes: the normalised text (``segments.norm_text``) and the katakana reading
(``segments.reading``, from ``rokuon.text.readings``, written by the pipeline's index
step), so a search for 解約 also finds 開約 (カイヤク).

SQLite: FTS5 tables ``segments_fts`` and ``segments_reading_fts`` with the trigram
tokenizer, filled by the index step and emptied when a call is erased. PostgreSQL:
pg_trgm GIN indexes on ``segments.norm_text`` and ``segments.reading`` that the
database maintains itself.

Queries of 1 or 2 characters (解約, 円) cannot use a trigram index, so each segment's
normalised text also has its *grams*: the distinct characters and character pairs it
contains. SQLite: the FTS5 table ``segments_gram_fts`` holds them as hex tokens (so
punctuation and the tokenizer's idea of a word never split a gram), written and
dropped with the trigram tables. PostgreSQL (pg_bigm is not available): a GIN
expression index on ``rokuon_grams(norm_text)``, an immutable SQL function giving the
same array, maintained by the database. A gram hit is a candidate; the caller checks
the text itself. Readings need no gram index: search by sound starts at 3 morae,
which are 3+ katakana and use the reading's trigram index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Integer, column, or_, select, text
from sqlalchemy.orm import Session

from rokuon.store.models import Segment

MIN_TRIGRAM = 3  # shorter queries use the gram index (characters and pairs)


def grams(norm_text: str) -> set[str]:
    """The distinct characters and adjacent character pairs of a normalised text."""
    out = set(norm_text)
    out.update(norm_text[i:i + 2] for i in range(len(norm_text) - 1))
    return out


def gram_token(gram: str) -> str:
    """A gram as an FTS5 token: hex of its UTF-8 bytes, prefixed so it is never a
    number."""
    return "g" + gram.encode("utf-8").hex()


def gram_document(norm_text: str) -> str:
    return " ".join(sorted(gram_token(g) for g in grams(norm_text or "")))


def _fts(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def drop_call(session: Session, call_id: str) -> None:
    if _fts(session):
        session.execute(text("DELETE FROM segments_fts WHERE call_id = :c"), {"c": call_id})
        session.execute(text("DELETE FROM segments_reading_fts WHERE call_id = :c"),
                        {"c": call_id})
        session.execute(text("DELETE FROM segments_gram_fts WHERE call_id = :c"),
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
        rows = session.execute(text(
            "SELECT id, call_id, norm_text FROM segments WHERE transcript_id = :t"),
            {"t": transcript_id}).all()
        if rows:
            session.execute(text(
                "INSERT INTO segments_gram_fts (grams, segment_id, call_id) "
                "VALUES (:g, :i, :c)"),
                [{"g": gram_document(r[2]), "i": r[0], "c": r[1]} for r in rows])


def _contains(session: Session, table: str, col: Any, needle: str) -> Any:
    if len(needle) < MIN_TRIGRAM and col is Segment.norm_text:
        return _by_grams(session, needle)
    if _fts(session) and len(needle) >= MIN_TRIGRAM:
        phrase = '"' + needle.replace('"', '""') + '"'
        ids = (text(f"SELECT segment_id FROM {table} WHERE {table} MATCH :{table}")
               .bindparams(**{table: phrase}).columns(column("segment_id", Integer)))
        return Segment.id.in_(ids)
    # PostgreSQL: LIKE uses the pg_trgm GIN index for 3+ characters.
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col.like(f"%{escaped}%", escape="\\")


def _by_grams(session: Session, needle: str) -> Any:
    """Candidates for a 1- or 2-character query from the gram index."""
    if _fts(session):
        ids = (text("SELECT segment_id FROM segments_gram_fts "
                    "WHERE segments_gram_fts MATCH :gram")
               .bindparams(gram=gram_token(needle)).columns(column("segment_id", Integer)))
        return Segment.id.in_(ids)
    return text("rokuon_grams(segments.norm_text) @> ARRAY[CAST(:gram AS text)]"
                ).bindparams(gram=needle)


def matching(session: Session, needle: str, reading: str | None = None) -> Any:
    """A WHERE clause for segments whose normalised text contains ``needle`` — or,
    given a ``reading``, whose reading contains it (candidates: the caller checks a
    reading match on word boundaries)."""
    by_text = _contains(session, "segments_fts", Segment.norm_text, needle)
    if not reading:
        return by_text
    return or_(by_text, _contains(session, "segments_reading_fts", Segment.reading, reading))


@contextmanager
def unprepared(session: Session) -> Iterator[None]:
    """Run the enclosed statements unprepared on PostgreSQL: psycopg prepares a
    statement after 5 executions on one connection and the server may then choose a
    generic plan, which for a LIKE/gram search is a scan (0.2 s becomes 2 s). Search
    statements are planned for their own values every time."""
    raw = session.connection().connection.driver_connection
    if session.get_bind().dialect.name != "postgresql" or not hasattr(raw, "prepare_threshold"):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = before
