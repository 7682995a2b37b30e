"""Keyword ranking over a period: per keyword list and word, how often it was heard
(``count``), in how many calls (``calls``) and the change of the count against the
previous period of the same length (``change``). Lists: the analysis keyword lists
(ng, good, custom …), ``churn`` (churn cues) and ``competitor`` (competitor names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from rokuon.access import door
from rokuon.access.principal import Principal
from rokuon.reports.period import Period
from rokuon.reports.query import in_current, scoped
from rokuon.store.models import Call, CallKeywordHit

KEYWORD_KEYS = ("list", "word", "count", "calls", "change")


@dataclass
class KeywordReport:
    period: Period
    rows: list[dict[str, Any]]  # KEYWORD_KEYS + "previous" (the previous period's count)

    def contract(self) -> dict[str, Any]:
        return {"keywords": [{k: r[k] for k in KEYWORD_KEYS} for r in self.rows]}


def compute(session: Session, principal: Principal, period: Period, *,
            lists: tuple[str, ...] = ()) -> KeywordReport:
    which = in_current(period)
    h = CallKeywordHit
    q = (select(which.label("cur"), h.list, h.word, func.sum(h.hits).label("hits"),
                func.count().label("calls"))
         .select_from(h).join(Call, Call.id == h.call_id))
    if lists:
        q = q.where(h.list.in_(lists))
    q = scoped(q, principal, period).group_by(literal_column("cur"), h.list, h.word)
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for cur, lst, word, hits, calls in session.execute(q).all():
        r = table.setdefault((lst, word), {"list": lst, "word": word, "count": 0,
                                           "calls": 0, "previous": 0})
        if int(cur) == 1:
            r["count"], r["calls"] = int(hits), int(calls)
        else:
            r["previous"] = int(hits)
    rows = list(table.values())
    for r in rows:
        r["change"] = r["count"] - r["previous"]
    rows.sort(key=lambda r: (-r["count"], -r["calls"], r["list"], r["word"]))
    return KeywordReport(period, rows)


def report(session: Session, principal: Principal, period: Period, *,
           lists: tuple[str, ...] = ()) -> KeywordReport:
    """``compute``, recorded in the audit log as ``report.keywords``."""
    with door.audited(session, principal, "report.keywords", lists=list(lists),
                      **period.as_dict()):
        return compute(session, principal, period, lists=lists)
