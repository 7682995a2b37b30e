"""The dashboard page (``/dashboard``): KPIs of a period by agent / team / queue / day
with the previous period beside them, the trend per day (per week for long periods)
as a server-side SVG chart, the keyword ranking, CSV links. Thin: rokuon.reports.service
computes; this module formats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rokuon.access.principal import Principal
from rokuon.reports.kpis import GROUPS
from rokuon.reports.period import ReportError, parse_period
from rokuon.reports.service import TABLE_KEYS, TREND_KEYS, Trend, dashboard
from rokuon.runtime import Runtime
from rokuon.web.deps import Auth, db_session, require_action, runtime, ui_auth
from rokuon.web.ui import render

router = APIRouter()

PERCENT = ("talk_ratio", "qa_pass_rate", "negative_share")
COUNTS = ("calls", "complaints", "no_announcement")
LOWER_IS_BETTER = ("aht_s", "silence_s", "hold_s", "overlap_s", "interruptions",
                   "filler_per_min", "complaints", "negative_share", "no_announcement")
NEUTRAL = ("calls", "talk_ratio")
KEYWORD_ROWS = 50
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T, PAD_R = 720, 220, 56, 28, 12, 12


def fmt(key: str, v: Any) -> str:
    """A figure as the page shows it."""
    if v is None:
        return "–"
    if key in PERCENT:
        return f"{v * 100:.1f}%"
    if key in COUNTS:
        return f"{int(v):,}"
    if key == "aht_s":
        return f"{int(v // 60)}:{int(v % 60):02d}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def direction(key: str, cur: Any, prev: Any) -> str:
    """CSS classes for the arrow beside a figure: 'up' / 'down', and 'better' / 'worse'
    where the figure has a good direction."""
    if cur is None or prev is None or cur == prev:
        return ""
    arrow = "up" if cur > prev else "down"
    if key in NEUTRAL:
        return arrow
    better = (cur < prev) == (key in LOWER_IS_BETTER)
    return f"{arrow} {'better' if better else 'worse'}"


def cells(cur: dict[str, Any], prev: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, previous figure, arrow classes, arrow) per column: formatted here, not
    in the template (a table of 200 agents has 5 000 of them)."""
    out = []
    for k in TABLE_KEYS:
        d = direction(k, cur[k], prev[k])
        out.append((fmt(k, cur[k]), fmt(k, prev[k]), d,
                    "" if not d else "▲" if d.startswith("up") else "▼"))
    return out


def table(rep: Any) -> list[dict[str, Any]]:
    rows = [{"key": None, "total": True, "cells": cells(rep.total, rep.previous_total)}]
    rows += [{"key": g["key"], "total": False, "cells": cells(g, rep.previous_of(g["key"]))}
             for g in rep.groups]
    return rows


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def chart(tr: Trend) -> dict[str, Any]:
    """Coordinates of an SVG line chart: this period solid, the previous one dashed
    (gaps where a day has no value)."""
    values = [v for v in tr.current + tr.previous if v is not None]
    top = _nice_max(max(values) if values else 0.0)
    n = max(len(tr.labels), 1)
    iw, ih = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B

    def x(i: int) -> float:
        return round(PAD_L + (iw * i / (n - 1) if n > 1 else iw / 2), 1)

    def y(v: float) -> float:
        return round(PAD_T + ih - ih * v / top, 1)

    def lines(series: list[float | None]) -> list[str]:
        out, cur = [], []
        for i, v in enumerate(series):
            if v is None:
                if cur:
                    out.append(" ".join(cur))
                cur = []
            else:
                cur.append(f"{x(i)},{y(v)}")
        if cur:
            out.append(" ".join(cur))
        return out

    step = max(1, n // 8)
    return {
        "w": CHART_W, "h": CHART_H, "left": PAD_L, "right": CHART_W - PAD_R,
        "top": PAD_T, "bottom": CHART_H - PAD_B,
        "current": lines(tr.current), "previous": lines(tr.previous),
        "dots": [{"x": x(i), "y": y(v), "label": f"{tr.labels[i]}: {fmt(tr.metric, v)}"}
                 for i, v in enumerate(tr.current) if v is not None],
        "yticks": [{"y": y(top * f), "label": fmt(tr.metric, top * f)
                    if tr.metric not in COUNTS else f"{top * f:g}"} for f in (0, 0.5, 1)],
        "xticks": [{"x": x(i), "label": tr.labels[i][5:]} for i in range(0, n, step)],
    }


def scope_of(p: Principal) -> tuple[str, dict[str, str]]:
    if p.role in ("admin", "compliance"):
        return "scope_all", {}
    if p.role == "supervisor":
        return ("scope_team", {"team": p.team}) if p.team else ("scope_none", {})
    return "scope_own", {}


@router.get("/dashboard")
def dashboard_page(request: Request, since: str = "", until: str = "", group: str = "agent",
                   trend: str = "calls", auth: Auth = Depends(ui_auth),
                   s: Session = Depends(db_session), rt: Runtime = Depends(runtime)
                   ) -> Response:
    require_action(auth, "report")
    scope_key, scope_kw = scope_of(auth.principal)
    ctx: dict[str, Any] = {
        "auth": auth, "since": since, "until": until, "group": group, "trend": trend,
        "groups": GROUPS, "trend_keys": TREND_KEYS, "keys": TABLE_KEYS, "fmt": fmt,
        "direction": direction, "scope_key": scope_key, "scope_kw": scope_kw, "d": None,
        "error": None}
    try:
        period = parse_period(since or None, until or None, rt.settings.timezone)
        d = dashboard(s, auth.principal, period, group, trend)
    except ReportError as exc:
        ctx["error"] = str(exc)
        return render(request, "dashboard.html", status_code=400, **ctx)
    today = datetime.now(ZoneInfo(rt.settings.timezone)).date()
    q = {"since": period.since.isoformat(), "until": period.until.isoformat()}
    ctx.update(
        d=d, since=q["since"], until=q["until"], group=d.group, previous=period.previous(),
        chart=chart(d.trend), rows=table(d.kpis), keyword_rows=d.keywords.rows[:KEYWORD_ROWS],
        csv={"kpis": "/api/reports/kpis?" + urlencode({**q, "group": d.group,
                                                       "format": "csv"}),
             "days": "/api/reports/kpis?" + urlencode({**q, "group": "day", "format": "csv"}),
             "keywords": "/api/reports/keywords?" + urlencode({**q, "format": "csv"})},
        presets=[(n, "/dashboard?" + urlencode({
            "since": (today - timedelta(days=n - 1)).isoformat(),
            "until": today.isoformat(), "group": d.group, "trend": d.trend.metric}))
            for n in (7, 30, 90)])
    return render(request, "dashboard.html", **ctx)
