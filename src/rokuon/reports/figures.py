"""Per-call figures for the reports, taken from a call's analysis results.

``figures(analysis)`` is a pure function of the analysis payloads (the call document's
``analysis``); ``store(session, call_id, analysis)`` writes them as the call's one
``call_kpis`` row and its ``call_keyword_hits`` rows, replacing what was there (the
analyze step calls it in its own transaction; the migration that made the tables
filled them for calls analysed before)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from rokuon.store.models import CallKeywordHit, CallKpi

# the analyzers the figures are read from
ANALYZERS = ("metrics", "fillers", "keywords", "sentiment", "consent", "complaint", "churn",
             "voc", "qa", "pii")
WORD_MAX = 200


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _dict(analysis: dict[str, Any], name: str) -> dict[str, Any]:
    v = analysis.get(name)
    return v if isinstance(v, dict) and "error" not in v else {}


def pii_count(analysis: dict[str, Any]) -> int | None:
    """How many personal / card data findings the call's ``pii`` result lists (None
    when the analyzer did not run or failed)."""
    found = analysis.get("pii")
    if not isinstance(found, list):
        return None
    return sum(1 for f in found if isinstance(f, dict))


def figures(analysis: dict[str, Any]) -> dict[str, Any]:
    """The ``call_kpis`` columns of one call (None where the analysis cannot say)."""
    m = _dict(analysis, "metrics")
    agent_talk, customer_talk = _num(m.get("agent_talk_s")), _num(m.get("customer_talk_s"))
    share = None
    if agent_talk is not None and customer_talk is not None and agent_talk + customer_talk > 0:
        share = round(agent_talk / (agent_talk + customer_talk), 4)
    hold = m.get("hold") if isinstance(m.get("hold"), dict) else {}
    inter = m.get("interruptions")
    fillers = _dict(analysis, "fillers").get("agent")
    filler_count = fillers.get("count") if isinstance(fillers, dict) else None
    qa = _dict(analysis, "qa")
    customer = _dict(analysis, "sentiment").get("customer")
    label = customer.get("label") if isinstance(customer, dict) else None
    consent = _dict(analysis, "consent")
    return {
        "agent_talk_s": agent_talk,
        "customer_talk_s": customer_talk,
        "agent_share": share,
        "silence_s": _num(m.get("silence_s")),
        "hold_s": _num(hold.get("total_s")),
        "overlap_s": _num(m.get("overlap_s")),
        "interruptions": inter if isinstance(inter, int) and not isinstance(inter, bool)
        else None,
        "fillers": filler_count if isinstance(filler_count, int)
        and not isinstance(filler_count, bool) else None,
        "qa_score": _num(qa.get("score")),
        "qa_passed": _bool(qa.get("passed")),
        "complaint": _bool(_dict(analysis, "complaint").get("detected")),
        "churn": _bool(_dict(analysis, "churn").get("detected")),
        "negative": None if label not in ("negative", "neutral", "positive")
        else label == "negative",
        "announced": _bool(consent.get("announced")),
        "pii": pii_count(analysis),
    }


def keyword_hits(analysis: dict[str, Any]) -> Counter[tuple[str, str]]:
    """(list, word) → hits: the keyword lists' hits, churn cues as list ``churn`` and
    competitor names (VOC tags) as list ``competitor``."""
    out: Counter[tuple[str, str]] = Counter()
    kws = analysis.get("keywords")
    for h in kws if isinstance(kws, list) else []:
        if isinstance(h, dict) and h.get("list") and h.get("word"):
            out[(str(h["list"])[:50], str(h["word"])[:WORD_MAX])] += 1
    for ev in _dict(analysis, "churn").get("evidence") or []:
        if isinstance(ev, dict) and ev.get("cue") and ev.get("kind", "churn") == "churn":
            out[("churn", str(ev["cue"])[:WORD_MAX])] += 1
    for tag in _dict(analysis, "voc").get("tags") or []:
        if isinstance(tag, dict) and tag.get("tag") == "competitor" and tag.get("label"):
            out[("competitor", str(tag["label"])[:WORD_MAX])] += 1
    return out


def store(session: Session, call_id: str, analysis: dict[str, Any]) -> None:
    """Write (or replace) the call's figures and keyword hits in the caller's
    transaction."""
    row = session.get(CallKpi, call_id)
    values = figures(analysis)
    if row is None:
        session.add(CallKpi(call_id=call_id, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)
    session.execute(delete(CallKeywordHit).where(CallKeywordHit.call_id == call_id))
    for (lst, word), n in sorted(keyword_hits(analysis).items()):
        session.add(CallKeywordHit(call_id=call_id, list=lst, word=word, hits=n))
