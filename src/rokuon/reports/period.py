"""A report's period: whole days, ``since`` to ``until`` inclusive, in the
installation's time zone, and the previous period of the same length beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 7
MAX_DAYS = 5 * 365 + 2  # five years (with their leap days)
EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)


class ReportError(ValueError):
    """A request the reports cannot answer (bad dates, unknown group): say what."""


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive
    tz: str

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.since - timedelta(days=self.days),
                      self.since - timedelta(days=1), self.tz)

    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=ZoneInfo(self.tz))

    def end(self) -> datetime:
        """The first instant after the period (the next local midnight)."""
        return datetime.combine(self.until + timedelta(days=1), time.min,
                                tzinfo=ZoneInfo(self.tz))

    def day_list(self) -> list[date]:
        return [self.since + timedelta(days=i) for i in range(self.days)]

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


def parse_day(name: str, v: str) -> date:
    """One YYYY-MM-DD date in the accepted range, or ReportError naming ``name``."""
    try:
        d = date.fromisoformat(v.strip())
    except ValueError:
        raise ReportError(f"{name}: {v!r} is not a date (expected YYYY-MM-DD)") from None
    if not EARLIEST <= d <= LATEST:
        raise ReportError(f"{name}: {d.isoformat()} is outside {EARLIEST.year}–"
                          f"{LATEST.year}")
    return d


def parse_period(since: str | date | None, until: str | date | None, tz: str, *,
                 today: date | None = None, default_days: int = DEFAULT_DAYS) -> Period:
    """``since``/``until`` as YYYY-MM-DD (either may be left out: the period is then
    ``default_days`` long, ending today or starting at ``since``). Reversed, longer
    than five years, unparsable or out-of-range dates raise ReportError naming the
    problem."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    s = parse_day("since", since) if isinstance(since, str) and since.strip() else \
        since if isinstance(since, date) else None
    u = parse_day("until", until) if isinstance(until, str) and until.strip() else \
        until if isinstance(until, date) else None
    if s is None and u is None:
        u = today
    if s is None:
        assert u is not None
        s = u - timedelta(days=default_days - 1)
    if u is None:
        u = max(s, min(today, s + timedelta(days=default_days - 1)))
    if u < s:
        raise ReportError(f"until ({u.isoformat()}) is before since ({s.isoformat()})")
    if (u - s).days + 1 > MAX_DAYS:
        raise ReportError(f"the period {s.isoformat()} – {u.isoformat()} is longer than "
                          f"five years ({(u - s).days + 1} days); choose a shorter one")
    if s - timedelta(days=(u - s).days + 1) < EARLIEST:
        raise ReportError(f"since: {s.isoformat()} is too early to compare with the "
                          f"period before it")
    return Period(s, u, tz)
