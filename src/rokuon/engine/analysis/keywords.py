"""NG / GOOD / custom keyword lists matched on normalised dictionary forms (the one
text normaliser): spelling variants, full/half width and kana/kanji as Sudachi
unifies them all match — and, through the one phrase matcher, on their reading
(開約 for 解約), except for homophones that are words of their own. Lists are data
(defaults/keywords.yaml, overridable; ``matching:`` per list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.patterns import MatchOptions, match, options
from rokuon.engine.analysis.spans import time_span
from rokuon.text.normalize import lexical_units

VERSION = 2  # 2: words also match by reading; each hit says how ("matched")


@dataclass(frozen=True)
class KeywordList:
    name: str
    speaker: str  # agent | customer | any
    spellings: dict[str, str]  # every spelling (word or variant) → the word
    opts: MatchOptions


def compile_lists(cfg: dict[str, Any]) -> list[KeywordList]:
    out = []
    for name, spec in (cfg.get("keywords") or {}).items():
        if not isinstance(spec, dict):
            continue
        spellings: dict[str, str] = {}
        for entry in spec.get("words") or []:
            word, variants = (entry, []) if isinstance(entry, str) else (
                str(entry.get("word", "")), list(entry.get("variants") or []))
            for w in (word, *variants):
                if w and lexical_units(str(w)):
                    spellings.setdefault(str(w), str(word))
        if spellings:
            out.append(KeywordList(str(name), str(spec.get("speaker", "any")), spellings,
                                   options(cfg, spec)))
    return out


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> list[dict[str, Any]]:
    lists = compile_lists(cfg)
    hits: list[dict[str, Any]] = []
    for idx, seg in enumerate(inp.segments):
        if not seg.text.strip():
            continue
        for kl in lists:
            if kl.speaker not in ("any", seg.speaker):
                continue
            seen: set[tuple[str, int, int]] = set()
            for h in match(seg.text, list(kl.spellings), kl.opts):
                word = kl.spellings[h.phrase]
                if (word, h.start, h.end) in seen or any(
                        w == word and a <= h.start and h.end <= b and h.matched == "reading"
                        for w, a, b in seen):
                    continue
                seen.add((word, h.start, h.end))
                s, e = time_span(seg, h.start, h.end)
                hits.append({"list": kl.name, "word": word, "speaker": seg.speaker,
                             "start": round(s, 2), "end": round(e, 2), "segment": idx,
                             "chars": [h.start, h.end], "matched": h.matched})
    return hits[:2000]
