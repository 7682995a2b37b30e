"""KPIs per agent / team / queue / day over a period, with the previous period of the
same length beside them, aggregated in SQL over ``calls`` ⟕ ``call_kpis``.

What each figure means (docs/reports.md):
- calls: calls started in the period (local days), failed and use-stopped ones left out
- aht_s: mean duration (average handling time)
- talk_ratio: mean per call of the agent's share of the talk time (agent / all talk)
- silence_s, hold_s, overlap_s, interruptions: means per analysed call
- filler_per_min: the agent's fillers per minute of agent talk, over all calls together
- qa_avg: mean QA score; qa_pass_rate: share of scored calls that passed
- complaints: calls with a complaint; negative_share: share of calls whose customer
  sentiment is negative; no_announcement: analysed calls without the recording notice
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.reports.period import Period, ReportError
from rokuon.reports.query import group_key, in_current, scoped
from rokuon.store.models import Call, CallKpi

GROUPS = ("agent", "team", "queue", "day")
# the figures of CONTRACT.md, in order
KPI_KEYS = ("calls", "aht_s", "talk_ratio", "silence_s", "overlap_s", "interruptions",
            "filler_per_min", "qa_avg", "qa_pass_rate", "complaints", "negative_share",
            "no_announcement")
# and the ones the dashboard and CSV add
EXTRA_KEYS = ("hold_s",)


def _true(col: Any) -> Any:
    return func.sum(case((col.is_(True), literal_column("1")), else_=literal_column("0")))


def _sums() -> list[Any]:
    """Sums and counts (not averages): groups add up into the total exactly."""
    k = CallKpi
    return [
        func.count(Call.id).label("calls"),
        func.sum(Call.duration_s).label("dur"),
        func.sum(k.agent_share).label("share"), func.count(k.agent_share).label("share_n"),
        func.sum(k.silence_s).label("silence"), func.count(k.silence_s).label("silence_n"),
        func.sum(k.hold_s).label("hold"), func.count(k.hold_s).label("hold_n"),
        func.sum(k.overlap_s).label("overlap"), func.count(k.overlap_s).label("overlap_n"),
        func.sum(k.interruptions).label("inter"),
        func.count(k.interruptions).label("inter_n"),
        func.sum(k.fillers).label("fillers"),
        func.sum(case((k.fillers.is_not(None), k.agent_talk_s), else_=None))
        .label("filler_talk"),
        func.sum(k.qa_score).label("qa"), func.count(k.qa_score).label("qa_n"),
        _true(k.qa_passed).label("qa_pass"), func.count(k.qa_passed).label("qa_pass_n"),
        _true(k.complaint).label("complaints"),
        _true(k.negative).label("negative"), func.count(k.negative).label("negative_n"),
        func.sum(case((k.announced.is_(False), literal_column("1")), else_=literal_column("0")))
        .label("no_announcement"),
    ]


SUM_NAMES = ("calls", "dur", "share", "share_n", "silence", "silence_n", "hold", "hold_n",
             "overlap", "overlap_n", "inter", "inter_n", "fillers", "filler_talk", "qa",
             "qa_n", "qa_pass", "qa_pass_n", "complaints", "negative", "negative_n",
             "no_announcement")


def _ratio(a: float, b: float, digits: int) -> float | None:
    return round(a / b, digits) if b else None


def finish(acc: dict[str, float]) -> dict[str, Any]:
    """KPIs from the sums of a group (or of several groups added up)."""
    g = acc.get
    filler_min = (g("filler_talk") or 0) / 60
    return {
        "calls": int(g("calls") or 0),
        "aht_s": _ratio(g("dur") or 0, g("calls") or 0, 1),
        "talk_ratio": _ratio(g("share") or 0, g("share_n") or 0, 3),
        "silence_s": _ratio(g("silence") or 0, g("silence_n") or 0, 2),
        "overlap_s": _ratio(g("overlap") or 0, g("overlap_n") or 0, 2),
        "interruptions": _ratio(g("inter") or 0, g("inter_n") or 0, 2),
        "filler_per_min": _ratio(g("fillers") or 0, filler_min, 2)
        if g("fillers") is not None else None,
        "qa_avg": _ratio(g("qa") or 0, g("qa_n") or 0, 1),
        "qa_pass_rate": _ratio(g("qa_pass") or 0, g("qa_pass_n") or 0, 3),
        "complaints": int(g("complaints") or 0),
        "negative_share": _ratio(g("negative") or 0, g("negative_n") or 0, 3),
        "no_announcement": int(g("no_announcement") or 0),
        "hold_s": _ratio(g("hold") or 0, g("hold_n") or 0, 2),
    }


def add(into: dict[str, float], row: dict[str, Any]) -> None:
    for n in SUM_NAMES:
        v = row.get(n)
        if v is not None:
            into[n] = (into.get(n) or 0) + float(v)
        else:
            into.setdefault(n, None)  # type: ignore[arg-type]


def public(kpis: dict[str, Any]) -> dict[str, Any]:
    """Only the figures of the contract, in its order."""
    return {k: kpis[k] for k in KPI_KEYS}


@dataclass
class KpiReport:
    period: Period
    group: str | None
    total: dict[str, Any]
    previous_total: dict[str, Any]
    groups: list[dict[str, Any]] = field(default_factory=list)  # {"key", **kpis}
    previous: dict[Any, dict[str, Any]] = field(default_factory=dict)  # key → kpis
    # the sums behind them, to regroup (days into weeks): key → sums
    sums: dict[Any, dict[str, float]] = field(default_factory=dict)
    previous_sums: dict[Any, dict[str, float]] = field(default_factory=dict)

    def contract(self) -> dict[str, Any]:
        """``{"total": {kpis}, "groups": [{"key": …, …kpis}]}`` (CONTRACT.md)."""
        return {"total": public(self.total),
                "groups": [{"key": g["key"], **public(g)} for g in self.groups]}

    def previous_of(self, key: Any) -> dict[str, Any]:
        return self.previous.get(key) or finish({})


def check_group(group: str | None) -> str | None:
    if group in (None, ""):
        return None
    if group not in GROUPS:
        raise ReportError(f"group must be one of {', '.join(GROUPS)}; got {group!r}")
    return group


def _sort_key(key: Any) -> tuple[int, str]:
    return (key is None, "" if key is None else str(key))


def compute(session: Session, principal: Principal, period: Period,
            group: str | None = None) -> KpiReport:
    """The KPIs of the calls the principal may see (no audit entry: see ``report``)."""
    group = check_group(group)
    which = in_current(period)
    key = group_key(session, group, period)
    # grouped by the output names: the time zone is a bound parameter, and PostgreSQL
    # would not see two copies of an expression with parameters as the same one
    q = (select(which.label("cur"), key.label("grp"), *_sums()).select_from(Call)
         .outerjoin(CallKpi, CallKpi.call_id == Call.id))
    q = scoped(q, principal, period).group_by(literal_column("cur"), literal_column("grp"))
    cur: dict[Any, dict[str, float]] = {}
    prev: dict[Any, dict[str, float]] = {}
    total: dict[str, float] = {}
    prev_total: dict[str, float] = {}
    for row in session.execute(q).mappings():
        k = row["grp"]
        if group == "day" and k is not None and int(row["cur"]) == 0:
            k = (date.fromisoformat(str(k)) + timedelta(days=period.days)).isoformat()
        target, tot = (cur, total) if int(row["cur"]) == 1 else (prev, prev_total)
        add(target.setdefault(k, {}), dict(row))
        add(tot, dict(row))
    keys: list[Any]
    if group == "day":  # every day of the period, calls or not
        keys = [d.isoformat() for d in period.day_list()]
    elif group is None:
        keys = []
    else:
        keys = sorted(cur, key=_sort_key)
    return KpiReport(period=period, group=group, total=finish(total),
                     previous_total=finish(prev_total),
                     groups=[{"key": k, **finish(cur.get(k, {}))} for k in keys],
                     previous={k: finish(v) for k, v in prev.items()},
                     sums=cur, previous_sums=prev)


def report(session: Session, principal: Principal, period: Period,
           group: str | None = None) -> KpiReport:
    """``compute``, recorded in the audit log as ``report.kpis``."""
    with door.audited(session, principal, "report.kpis", group=group, **period.as_dict()):
        return compute(session, principal, period, group)
