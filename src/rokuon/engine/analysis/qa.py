"""QA scoring with scorecards as data (defaults/scorecards.yaml): each criterion is
checked against the transcript and the other analyzers' results, gets points and
pass/fail, and carries its evidence (segment, speaker, times). Criteria that do not
apply (an apology when there was no complaint) are left out of the total."""

from __future__ import annotations

import re
from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.patterns import MatchOptions, match, options
from rokuon.engine.analysis.spans import time_span

VERSION = 2  # 2: phrases match through the one matcher (text or reading)
_INTRO = re.compile(r"の[^\s、。]{1,10}(でございます|と申します|です)")


class ScorecardError(ValueError):
    pass


def _path(prior: dict[str, Any], dotted: str) -> Any:
    cur: Any = prior
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _phrase_hits(inp: CallInput, crit: dict[str, Any], opts: MatchOptions
                 ) -> list[dict[str, Any]]:
    speaker = crit.get("speaker", "agent")
    within, last = crit.get("within_s"), crit.get("last_s")
    end_t = max((s.end for s in inp.segments), default=0.0)
    out = []
    for idx, seg in enumerate(inp.segments):
        if speaker != "any" and seg.speaker != speaker:
            continue
        if within is not None and seg.start > float(within):
            continue
        if last is not None and seg.end < end_t - float(last):
            continue
        for h in match(seg.text, list(crit.get("phrases", [])), opts):
            s, e = time_span(seg, h.start, h.end)
            out.append(finding(idx, seg, s, e, phrase=h.phrase, matched=h.matched))
    return out


def _check(crit: dict[str, Any], inp: CallInput, prior: dict[str, Any],
           opts: MatchOptions) -> tuple[bool | None, list[dict[str, Any]], str]:
    """(passed — None when not applicable, evidence, detail)."""
    kind = crit.get("type")
    if crit.get("fuzzy") is False:  # the old spelling of "text only" for one criterion
        opts = MatchOptions(reading=False)
    if kind == "phrase_present":
        hits = _phrase_hits(inp, crit, opts)
        return bool(hits), hits[:5], f"{len(hits)} found"
    if kind == "phrase_absent":
        # an accusation: only exact readings, never the tolerance for long phrases
        hits = _phrase_hits(inp, crit, MatchOptions(**{**vars(opts), "fuzzy_min_morae": 999}))
        return not hits, hits[:10], f"{len(hits)} found"
    if kind == "self_introduction":
        within = float(crit.get("within_s", 20))
        staff = {p.get("segment") for p in prior.get("pii") or []
                 if isinstance(p, dict) and p.get("type") == "staff_name"}
        for idx, seg in enumerate(inp.segments):
            if seg.speaker != "agent" or seg.start > within:
                continue
            if match(seg.text, list(crit.get("phrases", [])), opts) and (
                    idx in staff or _INTRO.search(seg.text[:200]) or inp.language != "ja"):
                return True, [finding(idx, seg, seg.start, seg.end)], "introduced"
        return False, [], "no company and own name at the start"
    if kind == "consent_announced":
        c = prior.get("consent") or {}
        ev = [e for e in c.get("evidence", []) if e.get("kind") == "announcement"]
        at = c.get("announced_at")
        ok = bool(c.get("announced")) and at is not None and at <= float(
            crit.get("within_s", 1e9))
        return ok, ev, f"announced at {at} s" if at is not None else "not announced"
    if kind == "consent_asked":
        c = prior.get("consent") or {}
        ev = [e for e in c.get("evidence", []) if e.get("kind") == "consent_question"]
        return bool(ev), ev, f"answer: {c.get('answer')}"
    if kind == "keyword_absent":
        hits = [k for k in prior.get("keywords") or []
                if isinstance(k, dict) and k.get("list") == crit.get("list")]
        return not hits, hits[:10], f"{len(hits)} {crit.get('list')} words"
    if kind in ("metric_max", "metric_min", "metric_range"):
        value = _path(prior, str(crit.get("metric", "")))
        if not isinstance(value, int | float):
            return None, [], "metric not available"
        lo, hi = crit.get("min"), crit.get("max")
        ok = (lo is None or kind == "metric_max" or value >= float(lo)) and (
            hi is None or kind == "metric_min" or value <= float(hi))
        ev = _path(prior, str(crit["evidence_from"])) if crit.get("evidence_from") else None
        return ok, list(ev or [])[:10], f"{crit.get('metric')} = {value}"
    if kind == "apology_when_complaint":
        comp = prior.get("complaint") or {}
        if not comp.get("detected"):
            return None, [], "no complaint"
        first = min((e["start"] for e in comp.get("evidence", [])), default=0.0)
        hits = [h for h in _phrase_hits(inp, {**crit, "speaker": "agent"}, opts)
                if h["start"] >= first - 1.0]
        return bool(hits), hits[:5], "apologised" if hits else "no apology after the complaint"
    if kind == "sentiment_recovery":
        cust = (prior.get("sentiment") or {}).get("customer") or {}
        a, b = cust.get("first_half"), cust.get("second_half")
        if not isinstance(a, int | float) or not isinstance(b, int | float) or a >= -0.1:
            return None, [], "customer did not start negative"
        return b > a, [], f"{a:+.2f} → {b:+.2f}"
    raise ScorecardError(f"unknown criterion type {kind!r} (criterion {crit.get('id')!r})")


def choose(inp: CallInput, cfg: dict[str, Any]) -> str:
    by_lang = (cfg.get("qa") or {}).get("scorecard_by_language") or {}
    return str(by_lang.get(inp.language or "ja") or by_lang.get("ja") or "default_ja")


def score(card: dict[str, Any], inp: CallInput, prior: dict[str, Any],
          opts: MatchOptions | None = None) -> dict[str, Any]:
    opts = MatchOptions() if opts is None else opts
    criteria = []
    got = possible = 0.0
    for crit in card.get("criteria", []):
        weight = float(crit.get("weight", 0))
        passed, evidence, detail = _check(crit, inp, prior, opts)
        points = weight if passed else 0.0
        if passed is not None:
            got += points
            possible += weight
        criteria.append({"id": crit.get("id"), "label": crit.get("label", crit.get("id")),
                         "weight": weight, "passed": passed,
                         "points": points if passed is not None else None,
                         "applicable": passed is not None, "detail": detail,
                         "evidence": evidence})
    total = round(100 * got / possible, 1) if possible else 0.0
    return {"score": total, "passed": total >= float(card.get("pass_score", 70)),
            "pass_score": card.get("pass_score", 70), "criteria": criteria}


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    name = choose(inp, cfg)
    card = (cfg.get("scorecards") or {}).get(name)
    if not isinstance(card, dict):
        raise ScorecardError(f"scorecard {name!r} is not defined")
    if not inp.segments:
        return {"score": None, "passed": False, "scorecard": name, "criteria": [],
                "notes": ["no speech transcribed: nothing to score"]}
    opts = options(cfg, cfg.get("qa"))
    return {"scorecard": name, "title": card.get("title", name),
            "scorecard_version": int(card.get("version") or 0),
            **score(card, inp, prior, opts)}
