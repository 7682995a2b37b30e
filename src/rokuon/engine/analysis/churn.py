"""Churn intent: the customer says they want to cancel or switch (解約したい,
乗り換える…), negation-aware — 「解約するつもりはありません」 is not churn, and the
agent explaining 解約 procedures does not count."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.complaint import cue_hits
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.patterns import options

VERSION = 2  # 2: cues also match by reading; evidence says how


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("churn", {})
    hits = cue_hits(inp, list(c.get("cues", [])), "churn", check_negation=True,
                    opts=options(cfg, c))
    score = round(min(1.0, sum(h["weight"] for h in hits)), 3)
    return {"detected": score >= float(c.get("threshold", 0.5)), "score": score,
            "evidence": hits[:100]}
