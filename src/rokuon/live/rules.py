"""Real-time rules: conditions on a live call's transcript so far → alerts.

Rules are data (``live_rules`` in the analysis configuration; defaults in
engine/analysis/defaults/live_rules.yaml). Each rule fires at most once per call; an
alert carries its evidence (speaker, time, the utterance with personal data masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rokuon.engine.analysis.complaint import cue_hits
from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.keywords import compile_lists
from rokuon.engine.analysis.patterns import match, options
from rokuon.engine.types import Segment

CONDITIONS = ("complaint_score", "abusive_cue", "keyword", "phrase", "no_announcement",
              "card_data", "silence")
ABSENCE_CONDITIONS = ("no_announcement", "silence")  # about what was not (yet) heard
KINDS = ("complaint", "ng_word", "silence", "no_announcement", "pci", "custom")


class RuleError(ValueError):
    """A rule that cannot work (the message names it and what is wrong)."""


@dataclass(frozen=True)
class Fired:
    rule: str
    kind: str
    speaker: str | None
    start: float
    end: float
    segment: int | None  # index into the call's final segments (evidence), None: none
    score: float | None = None


def check_rules(rules: Any) -> list[dict[str, Any]]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise RuleError("live_rules must be a list")
    seen: set[str] = set()
    for i, r in enumerate(rules):
        where = f"live_rules[{i}]"
        if not isinstance(r, dict) or not r.get("name"):
            raise RuleError(f"{where}: a rule needs a name")
        name = str(r["name"])
        if name in seen:
            raise RuleError(f"{where}: the name {name!r} is used twice")
        seen.add(name)
        if r.get("when") not in CONDITIONS:
            raise RuleError(f"{where} ({name}): when must be one of {', '.join(CONDITIONS)}")
        if r.get("kind") not in KINDS:
            raise RuleError(f"{where} ({name}): kind must be one of {', '.join(KINDS)}")
        if r["when"] == "phrase" and not r.get("phrases"):
            raise RuleError(f"{where} ({name}): a phrase rule needs phrases")
    return list(rules)


def _span(segs: list[Segment], idx: int) -> tuple[str, float, float]:
    s = segs[idx]
    return s.speaker, s.start, s.end


def evaluate(rules: list[dict[str, Any]], cfg: dict[str, Any], segments: list[Segment],
             *, now_s: float, last_speech_s: float, fired: set[str],
             pii: list[dict[str, Any]] | None = None) -> list[Fired]:
    """The rules (not yet in ``fired``) that hold now. ``segments``: the final segments so
    far, in time order; ``now_s``: seconds into the call; ``pii``: the detector's findings
    on ``segments`` (for card_data)."""
    out: list[Fired] = []
    inp = CallInput(segments=segments, duration_s=now_s)
    comp = cfg.get("complaint") or {}
    copts = options(cfg, comp)
    for r in rules:
        name, when = str(r["name"]), r["when"]
        if name in fired:
            continue
        hit: Fired | None = None
        if when == "complaint_score":
            hits = cue_hits(inp, list(comp.get("cues", [])), "complaint", opts=copts) + \
                cue_hits(inp, list(comp.get("abusive_cues", [])), "abusive", opts=copts)
            score = sum(h["weight"] for h in hits)
            if hits and score >= float(r.get("threshold", 0.6)):
                last = max(hits, key=lambda h: h["end"])
                hit = Fired(name, r["kind"], last["speaker"], last["start"], last["end"],
                            last["segment"], round(min(score, 1.0), 2))
        elif when == "abusive_cue":
            hits = cue_hits(inp, list(comp.get("abusive_cues", [])), "abusive", opts=copts)
            if hits:
                h = hits[0]
                hit = Fired(name, r["kind"], h["speaker"], h["start"], h["end"], h["segment"],
                            float(h["weight"]))
        elif when == "keyword":
            lists = [kl for kl in compile_lists(cfg) if kl.name == r.get("list")]
            for idx, seg in enumerate(segments):
                if hit:
                    break
                for kl in lists:
                    if kl.speaker in ("any", seg.speaker) and \
                            match(seg.text, list(kl.spellings), kl.opts):
                        hit = Fired(name, r["kind"], *_span(segments, idx), idx)
                        break
        elif when == "phrase":
            who = r.get("speaker", "any")
            for idx, seg in enumerate(segments):
                if who in ("any", seg.speaker) and match(seg.text, list(r["phrases"]),
                                                         options(cfg, r)):
                    hit = Fired(name, r["kind"], *_span(segments, idx), idx)
                    break
        elif when == "no_announcement":
            within = float(r.get("within_s", 30))
            if now_s >= within:
                said = (cfg.get("consent") or {}).get("announcement", [])
                copts2 = options(cfg, cfg.get("consent") or {})
                if not any(s.speaker == "agent" and s.start <= within and
                           match(s.text, list(said), copts2) for s in segments):
                    hit = Fired(name, r["kind"], "agent", 0.0, within, None)
        elif when == "card_data":
            from rokuon.engine.analysis.pii.pci import CARD_KINDS

            cards = [f for f in pii or [] if f.get("type") in CARD_KINDS]
            if cards:
                f = cards[0]
                hit = Fired(name, r["kind"], f.get("speaker"), float(f["start"]),
                            float(f["end"]), int(f["segment"]) if "segment" in f else None)
        elif when == "silence":
            over = float(r.get("over_s", 30))
            if now_s - last_speech_s >= over:
                hit = Fired(name, r["kind"], None, last_speech_s, now_s, None)
        if hit:
            out.append(hit)
    return out
