"""The coaching cycle's rows: comments and bookmarks at a moment of a call (threaded,
acknowledged by the agent) and manual overrides of QA criteria (the automatic result
stays in the analysis beside them). Both go with the call when it is erased."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rokuon.store.models import Base, UTCDateTime, utcnow


class CallComment(Base):
    __tablename__ = "call_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_comments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="comment")  # comment | bookmark
    at_s: Mapped[float | None] = mapped_column(Float)  # the moment of the call, seconds
    body: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(320))
    author_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QaOverride(Base):
    """The current manual result of one criterion of a call's QA (one row per criterion;
    every change is in the audit log with the automatic result and the reason)."""

    __tablename__ = "qa_overrides"
    __table_args__ = (UniqueConstraint("call_id", "criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         index=True)
    criterion: Mapped[str] = mapped_column(String(100))
    passed: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
