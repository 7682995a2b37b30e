"""The one text normaliser: search, keyword lists and scoring all agree on
what "the same text" means by going through here.

- NFKC: full-width ASCII/digits → half width, half-width kana → full width.
- case folding.
- whitespace removed (Japanese has none; ASR inserts it inconsistently).
- optional katakana → hiragana folding (``fold_kana``).
"""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
_KATAKANA_START, _KATAKANA_END = 0x30A1, 0x30F6
_KANA_OFFSET = 0x60


def fold_katakana(text: str) -> str:
    return "".join(
        chr(ord(c) - _KANA_OFFSET) if _KATAKANA_START <= ord(c) <= _KATAKANA_END else c
        for c in text
    )


def normalize(text: str, *, fold_kana: bool = True) -> str:
    out = unicodedata.normalize("NFKC", text).casefold()
    out = _WS.sub("", out)
    if fold_kana:
        out = fold_katakana(out)
    return out


def lexical_units(text: str) -> list[tuple[str, int, int]]:
    """Text as a sequence of normalised dictionary forms with their character offsets
    in ``text`` (punctuation and spaces dropped). Two spellings of the same words —
    できません / 出来ません, ｶｰﾄﾞ / カード, full/half width digits — give the same
    sequence, which is how keyword lists and scorecard phrases match."""
    from rokuon.text.japanese import tokens

    out: list[tuple[str, int, int]] = []
    for t in tokens(text):
        if t.is_symbol or not t.surface.strip():
            continue
        out.append((normalize(t.normal), t.start, t.end))
    return out


def find_phrase(units: list[tuple[str, int, int]], phrase_units: list[str]
                ) -> list[tuple[int, int]]:
    """Character spans where the phrase's units occur contiguously in ``units``."""
    n = len(phrase_units)
    if n == 0:
        return []
    hits: list[tuple[int, int]] = []
    forms = [u[0] for u in units]
    for i in range(len(forms) - n + 1):
        if forms[i: i + n] == phrase_units:
            hits.append((units[i][1], units[i + n - 1][2]))
    return hits
