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
