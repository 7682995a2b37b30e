"""Complaint and abusive customer (カスハラ): the customer's lexical cues (weighted,
defaults/complaint.yaml) plus text sentiment and voice agitation → score 0–1, label
none / complaint / abusive, with the evidence (which cue, who, when)."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.patterns import MatchOptions, match, negated, options
from rokuon.engine.analysis.spans import time_span

VERSION = 2  # 2: cues also match by reading; evidence says how


def cue_hits(inp: CallInput, cues: list[dict[str, Any]], kind: str, *,
             check_negation: bool = False, opts: MatchOptions | None = None
             ) -> list[dict[str, Any]]:
    """Cues said by anyone but the agent, each phrase counted once per segment (by text
    or by reading, ``opts``)."""
    weights = {str(c["phrase"]): float(c.get("weight", 0.3)) for c in cues if "phrase" in c}
    out: list[dict[str, Any]] = []
    for idx, seg in enumerate(inp.segments):
        if seg.speaker == "agent":
            continue
        seen: set[str] = set()
        for phrase, a, b, how, _ in match(seg.text, list(weights), opts):
            if phrase in seen or (check_negation and negated(seg.text, b)):
                continue
            # a longer cue covering this one already counted (解約したい vs 解約)
            if any(h["segment"] == idx and h["chars"][0] <= a and b <= h["chars"][1]
                   for h in out):
                continue
            seen.add(phrase)
            s, e = time_span(seg, a, b)
            out.append(finding(idx, seg, s, e, cue=phrase, kind=kind, weight=weights[phrase],
                               chars=[a, b], matched=how))
    return out


def _customer_sentiment(prior: dict[str, Any]) -> float:
    sent = prior.get("sentiment") or {}
    try:
        return float((sent.get("customer") or {}).get("score") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _agitation_bonus(prior: dict[str, Any]) -> tuple[float, str | None]:
    ag = prior.get("agitation") or {}
    level = (ag.get("customer") or {}).get("level") if ag.get("available") else None
    return {"angry": 0.3, "agitated": 0.15}.get(level or "", 0.0), level


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("complaint", {})
    opts = options(cfg, c)
    complaint = cue_hits(inp, list(c.get("cues", [])), "complaint", opts=opts)
    abusive = cue_hits(inp, list(c.get("abusive_cues", [])), "abusive", opts=opts)
    lexical = sum(h["weight"] for h in complaint + abusive)
    sentiment = _customer_sentiment(prior)
    bonus, level = _agitation_bonus(prior)
    score = lexical + 0.3 * max(0.0, -sentiment) + (bonus if lexical > 0 else bonus / 2)
    score = round(min(1.0, score), 3)
    detected = score >= float(c.get("threshold", 0.5))
    is_abusive = bool(abusive) and score >= float(c.get("abusive_threshold", 0.6))
    return {"detected": detected or is_abusive, "score": score,
            "label": "abusive" if is_abusive else ("complaint" if detected else "none"),
            "components": {"lexical": round(min(1.0, lexical), 3),
                           "customer_sentiment": round(sentiment, 3),
                           "customer_agitation": level},
            "evidence": sorted(complaint + abusive, key=lambda h: h["start"])[:100]}
