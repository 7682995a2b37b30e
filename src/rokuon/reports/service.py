"""The reports' entry points for the CLI, the API and the dashboard: the period and
group checks, CSV tables, and the dashboard's data (KPI table with the previous period
beside it, the trend per day or week, the keyword ranking) under one audit entry."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.reports import keywords as kw
from rokuon.reports.kpis import EXTRA_KEYS, KPI_KEYS, KpiReport, add, check_group, compute, finish
from rokuon.reports.period import Period, ReportError, parse_period

__all__ = ["Period", "ReportError", "parse_period", "check_group", "kpis_csv",
           "keywords_csv", "topics_csv", "dashboard", "TABLE_KEYS"]

TABLE_KEYS = KPI_KEYS + EXTRA_KEYS
WEEKLY_FROM_DAYS = 63  # longer periods trend per week
TREND_KEYS = TABLE_KEYS[:]


def _cell(v: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (=, +, -, @ …)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return "" if v is None else v


def to_csv(columns: tuple[str, ...] | list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def kpis_csv(rep: KpiReport) -> str:
    """One row for the total, then one per group; each figure and, beside it, the
    previous period's (``prev_…``)."""
    cols = ["group", "key", *TABLE_KEYS, *(f"prev_{k}" for k in TABLE_KEYS)]
    rows = [{"group": "total", "key": "", **rep.total,
             **{f"prev_{k}": v for k, v in rep.previous_total.items()}}]
    for g in rep.groups:
        prev = rep.previous_of(g["key"])
        rows.append({**g, "group": rep.group, **{f"prev_{k}": v for k, v in prev.items()}})
    return to_csv(cols, rows)


def keywords_csv(rep: kw.KeywordReport) -> str:
    return to_csv(("list", "word", "count", "calls", "previous", "change"), rep.rows)


def topics_csv(rep: Any) -> str:
    """One row per VOC topic (rokuon.reports.topics); terms and call ids joined by
    spaces."""
    rows = [{**r, "terms": " ".join(r["terms"]), "call_ids": " ".join(r["call_ids"]),
             "examples": " ".join(r["examples"])} for r in rep.rows]
    return to_csv(("topic_id", "label", "calls", "previous", "change", "share", "terms",
                   "examples", "call_ids"), rows)


@dataclass
class Trend:
    """One figure per day (or week) of the period, and of the previous period."""

    metric: str
    unit: str  # day | week
    labels: list[str]
    current: list[float | None]
    previous: list[float | None]


def _weeks(period: Period) -> list[tuple[date, date]]:
    out, d = [], period.since
    while d <= period.until:
        end = min(period.until, d + timedelta(days=6 - d.weekday()))
        out.append((d, end))
        d = end + timedelta(days=1)
    return out


def trend(days: KpiReport, metric: str) -> Trend:
    """``days``: a report grouped by day."""
    period = days.period
    if period.days < WEEKLY_FROM_DAYS:
        labels = [g["key"] for g in days.groups]
        return Trend(metric, "day", labels, [g[metric] for g in days.groups],
                     [days.previous_of(k)[metric] for k in labels])
    labels, cur, prev = [], [], []
    for a, b in _weeks(period):
        c_acc: dict[str, float] = {}
        p_acc: dict[str, float] = {}
        for i in range((b - a).days + 1):
            k = (a + timedelta(days=i)).isoformat()
            add(c_acc, days.sums.get(k, {}))
            add(p_acc, days.previous_sums.get(k, {}))  # keyed by the matching day
        labels.append(a.isoformat())
        cur.append(finish(c_acc)[metric])
        prev.append(finish(p_acc)[metric])
    return Trend(metric, "week", labels, cur, prev)


@dataclass
class Dashboard:
    period: Period
    group: str
    kpis: KpiReport
    trend: Trend
    keywords: kw.KeywordReport


def dashboard(session: Session, principal: Principal, period: Period, group: str,
              metric: str = "calls") -> Dashboard:
    """Everything the dashboard shows, recorded as one ``report.dashboard`` entry."""
    group = check_group(group) or "agent"
    if metric not in TREND_KEYS:
        raise ReportError(f"trend must be one of {', '.join(TREND_KEYS)}; got {metric!r}")
    with door.audited(session, principal, "report.dashboard", group=group,
                      **period.as_dict()):
        rep = compute(session, principal, period, group)
        days = rep if group == "day" else compute(session, principal, period, "day")
        words = kw.compute(session, principal, period)
    return Dashboard(period, group, rep, trend(days, metric), words)
