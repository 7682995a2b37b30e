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
