"""NG / GOOD / custom keyword lists matched on normalised dictionary forms (the one
text normaliser): spelling variants, full/half width and kana/kanji as Sudachi
unifies them all match. Lists are data (defaults/keywords.yaml, overridable)."""

from __future__ import annotations

from typing import Any

from rokuon.engine.analysis.context import CallInput
from rokuon.engine.analysis.spans import time_span
from rokuon.text.normalize import find_phrase, lexical_units

VERSION = 1


def compile_lists(cfg: dict[str, Any]) -> list[tuple[str, str, str, list[list[str]]]]:
    """(list name, speaker filter, word, [unit sequences of the word and variants])."""
    out = []
    for name, spec in (cfg.get("keywords") or {}).items():
        if not isinstance(spec, dict):
            continue
        speaker = spec.get("speaker", "any")
        for entry in spec.get("words") or []:
            word, variants = (entry, []) if isinstance(entry, str) else (
                str(entry.get("word", "")), list(entry.get("variants") or []))
            forms = [[u[0] for u in lexical_units(w)] for w in [word, *variants] if w]
            forms = [f for f in forms if f]
            if forms:
                out.append((name, speaker, word, forms))
    return out


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> list[dict[str, Any]]:
    lists = compile_lists(cfg)
    hits: list[dict[str, Any]] = []
    for idx, seg in enumerate(inp.segments):
        units = lexical_units(seg.text)
        if not units:
            continue
        for name, speaker, word, forms in lists:
            if speaker not in ("any", seg.speaker):
                continue
            seen: set[tuple[int, int]] = set()
            for form in forms:
                for a, b in find_phrase(units, form):
                    if (a, b) in seen:
                        continue
                    seen.add((a, b))
                    s, e = time_span(seg, a, b)
                    hits.append({"list": name, "word": word, "speaker": seg.speaker,
                                 "start": round(s, 2), "end": round(e, 2), "segment": idx,
                                 "chars": [a, b]})
    return hits[:2000]
