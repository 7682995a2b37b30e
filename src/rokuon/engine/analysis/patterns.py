"""Phrase lists matched the same way everywhere (consent, complaint, churn, keywords,
VOC, QA): Japanese phrases on normalised dictionary forms (the text normaliser) and
— when ``matching.reading`` is on — also on their **reading** (``rokuon.text.readings``:
exact reading for short phrases, a small mora edit distance for long ones, a guard
against homophones), Latin-script phrases as whole words on normalised text. Every hit
says how it matched: ``"text"`` or ``"reading"``. Linear in the text for text matches;
no user-supplied regex."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

from rokuon.text import readings
from rokuon.text.normalize import find_phrase, lexical_units

Hit = tuple[str, int, int]  # phrase as configured, start char, end char


class PhraseHit(NamedTuple):
    phrase: str  # as configured
    start: int  # characters of the text
    end: int
    matched: str = "text"  # "text" | "reading"
    distance: float = 0.0  # weighted mora edit distance of a reading match


@dataclass(frozen=True)
class MatchOptions:
    """``matching:`` in the analysis config (global, and per section to override)."""
    reading: bool = True  # also match on the reading
    fuzzy_min_morae: int = 6  # shorter phrases: exact reading only
    tolerance: float = 0.15  # mora edit distance allowed per mora of a long phrase
    guard: bool = True  # homophones that are words of their own do not match
    min_morae: int = 2  # phrases shorter than this never match by reading


TEXT_ONLY = MatchOptions(reading=False)


def options(cfg: dict[str, Any], *sections: dict[str, Any] | None) -> MatchOptions:
    """The global ``matching`` options with each section's ``matching`` on top
    (e.g. ``keywords: {ng: {matching: {reading: false}}}``)."""
    opts = MatchOptions()
    for layer in (cfg.get("matching"), *((s or {}).get("matching") for s in sections)):
        if isinstance(layer, dict):
            known = {k: v for k, v in layer.items() if k in MatchOptions.__dataclass_fields__}
            opts = replace(opts, **known)
    return opts


def _is_latin(phrase: str) -> bool:
    return all(ord(c) < 0x3000 for c in phrase)


@lru_cache(maxsize=4096)
def _units_of(phrase: str) -> tuple[str, ...]:
    return tuple(u[0] for u in lexical_units(phrase))


@lru_cache(maxsize=4096)
def _units_of_text(text: str) -> tuple[tuple[str, int, int], ...]:
    return tuple(lexical_units(text))


def _folded(text: str) -> tuple[str, list[int]]:
    """NFKC + case-folded text (ＡＢＣ１２３ → abc123) and, per character, where it came
    from in ``text``."""
    out: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        f = unicodedata.normalize("NFKC", c).casefold()
        out.append(f)
        origin += [i] * len(f)
    return "".join(out), origin


def find_all(text: str, phrases: list[str], units: list[tuple[str, int, int]] | None = None
             ) -> list[Hit]:
    """Every occurrence of any phrase in ``text`` by its text (character spans)."""
    return [(h.phrase, h.start, h.end) for h in match(text, phrases, TEXT_ONLY, units)]


def match(text: str, phrases: list[str], opts: MatchOptions | None = None,
          units: list[tuple[str, int, int]] | None = None) -> list[PhraseHit]:
    """Every occurrence of any phrase by text, plus — for Japanese phrases with none —
    their occurrences by reading (``opts``; the defaults when None)."""
    if not text or not phrases:
        return []
    opts = MatchOptions() if opts is None else opts
    hits: list[PhraseHit] = []
    latin = [p for p in phrases if _is_latin(p)]
    ja = [p for p in phrases if not _is_latin(p)]
    if ja:
        tu = list(_units_of_text(text)) if units is None else units
        for p in ja:
            form = list(_units_of(p))
            hits += [PhraseHit(p, a, b) for a, b in find_phrase(tu, form)]
    if latin:
        low, origin = _folded(text)
        for p in latin:
            hits += [PhraseHit(p, origin[m.start()], origin[m.end() - 1] + 1)
                     for m in re.finditer(r"(?<![0-9a-z])" + re.escape(_folded(p)[0])
                                          + r"(?![0-9a-z])", low) if m.end() > m.start()]
    if opts.reading and ja:
        done = {h.phrase for h in hits}
        for p in ja:
            if p in done or len(readings.phrase_morae(p)) < opts.min_morae:
                continue
            hits += [PhraseHit(p, r.start, r.end, "reading", r.distance)
                     for r in readings.find(text, p, fuzzy_min_morae=opts.fuzzy_min_morae,
                                            tolerance=opts.tolerance, guard=opts.guard)]
    return sorted(hits, key=lambda h: (h.start, -h.end, h.matched))


_NEG_TAIL = re.compile(r"(ない|無い|ません|ず|ぬ|not|n't|never)")
_CLAUSE_END = re.compile(r"[。．.!！?？、,]")


def negated(text: str, end_char: int, window: int = 16) -> bool:
    """Whether the clause right after ``end_char`` negates what precedes it
    (解約するつもりはありません)."""
    tail = text[end_char: end_char + window]
    m = _CLAUSE_END.search(tail)
    if m:
        tail = tail[: m.start()]
    return bool(_NEG_TAIL.search(tail))
