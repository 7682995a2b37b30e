"""What every report query shares: the calls of a period and the one before it, in
the principal's scope (the access door), and the local day of a call in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, literal_column
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.reports.period import Period
from rokuon.store.models import Call, CallStatus


def in_current(period: Period) -> ColumnElement[int]:
    """1 for a call of the period, 0 for one of the period before it."""
    return case((Call.started_at >= period.start(), literal_column("1")),
                else_=literal_column("0"))


def scoped(q: Select[Any], principal: Principal, period: Period) -> Select[Any]:
    """Calls started in the period or the one before it (local days), visible to the
    principal, not failed, and not stopped from use (APPI art. 35: out of analytics)."""
    q = q.where(Call.started_at >= period.previous().start(), Call.started_at < period.end(),
                Call.use_stopped_at.is_(None), Call.status != CallStatus.FAILED)
    return door.scope_filter(principal, q)


def _local_day(value: Any, tz: str) -> str | None:
    if value is None:
        return None
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz)).date().isoformat()


def _fixed_offset_minutes(tz: str, first: date, last: date) -> int | None:
    """The zone's UTC offset in minutes when it is the same on every day of the range
    (Asia/Tokyo always), else None."""
    zone = ZoneInfo(tz)
    offsets = set()
    d = first
    while d <= last + timedelta(days=1):
        for t in (time.min, time(12)):
            off = datetime.combine(d, t, tzinfo=zone).utcoffset()
            offsets.add(int(off.total_seconds() // 60) if off is not None else 0)
        if len(offsets) > 1:
            return None
        d += timedelta(days=1)
    return offsets.pop()


def local_day(session: Session, period: Period) -> ColumnElement[str]:
    """A call's start as a local date 'YYYY-MM-DD' in the installation's time zone."""
    tz = period.tz
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, Call.started_at), "YYYY-MM-DD")
    minutes = _fixed_offset_minutes(tz, period.previous().since, period.until)
    if minutes is not None:  # SQLite stores UTC as text; shift it
        return func.date(Call.started_at, f"{minutes:+d} minutes")
    raw = session.connection().connection.driver_connection
    raw.create_function("rokuon_local_day", 2, _local_day,  # type: ignore[union-attr]
                        deterministic=True)
    return func.rokuon_local_day(Call.started_at, tz)


def group_key(session: Session, group: str | None, period: Period) -> ColumnElement[Any]:
    if group == "agent":
        return Call.agent
    if group == "queue":
        return Call.queue
    if group == "team":  # as the door scopes supervisors: metadata "team"
        return Call.extra_metadata["team"].as_string()
    if group == "day":
        return local_day(session, period)
    return literal_column("NULL")
