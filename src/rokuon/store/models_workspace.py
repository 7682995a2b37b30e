"""The supervisor's workspace rows: saved views of the call list (a name and the list's
filter as its query string), one set per user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
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
