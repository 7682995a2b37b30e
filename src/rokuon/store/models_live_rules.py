"""Real-time rules as data: each save of the rule set (in the browser, the API or the
CLI) is a new version; the newest is what live calls are checked against."""

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
