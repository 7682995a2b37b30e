"""The supervisor's workspace rows: saved views of the call list (a name and the list's
filter as its query string), one set per user; and each transcript's VOC terms, kept
so the topic report tokenises a call once (rokuon.reports.topics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rokuon.store.models import Base, UTCDateTime, utcnow


class SavedView(Base):
    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(320), index=True)  # the user's e-mail
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))  # the call list's filter, urlencoded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TranscriptTerms(Base):
    """The content words of what the customer said in one transcript, as
    ``rokuon.reports.topics.terms`` gives them (``version``: of that function; rows
    of an older version are recomputed). Deleted with the transcript or the call."""

    __tablename__ = "transcript_terms"

    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         index=True)
    version: Mapped[int] = mapped_column(Integer)
    terms: Mapped[list[Any]] = mapped_column(JSON)
