"""Phrase lists matched the same way everywhere (consent, complaint, churn, QA):
Japanese phrases on normalised dictionary forms (the text normaliser), Latin-script
phrases as whole words on normalised text. Linear time: no user-supplied regex."""

from __future__ import annotations

import re
from functools import lru_cache

from rokuon.text.normalize import find_phrase, lexical_units

Hit = tuple[str, int, int]  # phrase as configured, start char, end char


def _is_latin(phrase: str) -> bool:
    return all(ord(c) < 0x3000 for c in phrase)


@lru_cache(maxsize=4096)
def _units_of(phrase: str) -> tuple[str, ...]:
    return tuple(u[0] for u in lexical_units(phrase))


def find_all(text: str, phrases: list[str], units: list[tuple[str, int, int]] | None = None
             ) -> list[Hit]:
    """Every occurrence of any phrase in ``text`` (character spans into ``text``)."""
    if not text or not phrases:
        return []
    hits: list[Hit] = []
    latin = [p for p in phrases if _is_latin(p)]
    ja = [p for p in phrases if not _is_latin(p)]
    if ja:
        units = lexical_units(text) if units is None else units
        for p in ja:
            form = list(_units_of(p))
            hits += [(p, a, b) for a, b in find_phrase(units, form)]
    if latin:
        low = text.casefold()
        for p in latin:
            hits += [(p, m.start(), m.end())
                     for m in re.finditer(r"(?<![0-9a-z])" + re.escape(p.casefold())
                                          + r"(?![0-9a-z])", low)]
    return sorted(hits, key=lambda h: (h[1], -h[2]))


FUZZY_MIN_SCORE = 75.0  # rapidfuzz partial ratio of the readings, 0–100
FUZZY_MIN_MORAE = 6  # shorter phrases match exactly only (はい is not fuzzy-matched)


@lru_cache(maxsize=4096)
def _reading_of(phrase: str) -> str:
    from rokuon.text.japanese import tokens

    return "".join(t.reading for t in tokens(phrase) if not t.is_symbol)


def _reading_map(text: str) -> tuple[str, list[int], list[int]]:
    """The text's katakana reading and, per reading character, its token's span."""
    from rokuon.text.japanese import tokens

    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for t in tokens(text):
        if t.is_symbol or not t.surface.strip():
            continue
        for ch in t.reading or t.surface:
            chars.append(ch)
            starts.append(t.start)
            ends.append(t.end)
    return "".join(chars), starts, ends


def find_fuzzy(text: str, phrases: list[str], min_score: float = FUZZY_MIN_SCORE
               ) -> list[Hit]:
    """Exact hits plus, for longer Japanese phrases without one, the best match of the
    phrase's **reading** in the text's reading (edit-distance ratio ≥ ``min_score``).
    For what speech recognition mishears but sounds alike: 「オーテンは、ありがとう
    ございます」 still is the greeting お電話ありがとうございます. Used where a miss
    costs the agent points (QA phrases, the recording announcement), never for
    accusations (NG words, complaints, churn)."""
    from rapidfuzz import fuzz

    hits = find_all(text, phrases)
    done = {h[0] for h in hits}
    todo = [p for p in phrases if p not in done and not _is_latin(p)
            and len(_reading_of(p)) >= FUZZY_MIN_MORAE]
    if not todo or not text:
        return hits
    reading, starts, ends = _reading_map(text[:2000])
    for p in todo:
        pr = _reading_of(p)
        if len(reading) < len(pr):
            continue
        al = fuzz.partial_ratio_alignment(pr, reading, score_cutoff=min_score)
        if al is not None and al.dest_end > al.dest_start:
            hits.append((p, starts[al.dest_start], ends[al.dest_end - 1]))
    return sorted(hits, key=lambda h: (h[1], -h[2]))


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
