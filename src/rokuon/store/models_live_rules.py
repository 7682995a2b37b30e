"""Live calls as data: the real-time rule set (each save, in the browser, the API or the
CLI, is a new version; the newest is what live calls are checked against) and metadata
registered ahead of a call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rokuon.store.models import Base, UTCDateTime, utcnow


class LiveRuleVersion(Base):
    __tablename__ = "live_rule_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)  # 1, 2, … (0 = configuration)
    rules: Mapped[list[Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LivePreregistration(Base):
    """Metadata sent ahead of a live call that cannot carry it itself (Asterisk
    AudioSocket sends only a UUID): taken by the call whose stream key it names."""

    __tablename__ = "live_preregistrations"

    stream_key: Mapped[str] = mapped_column(String(100), primary_key=True)  # the UUID
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
