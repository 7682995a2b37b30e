"""Japanese morphology through SudachiPy (SplitMode C, core dictionary): tokens with
character offsets, parts of speech, dictionary normal forms and readings.

The tokenizer loads once per process (≈0.1 s) and is shared; SudachiPy tokenizers
are not thread-safe, so each thread gets its own.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

_local = threading.local()

# small kana that merge with the previous kana into one mora
_SMALL = set("ァィゥェォャュョヮぁぃぅぇぉゃゅょゎ")
# kana, CJK ideographs (incl. extension A and compatibility), half-width katakana
_JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
MAX_CHARS = 8_000  # slices of this size stay under Sudachi's 49 kB input limit (3 B/char)


@dataclass(frozen=True)
class Token:
    surface: str
    pos: tuple[str, ...]  # e.g. ("感動詞", "フィラー", "*", "*", "*", "*")
    normal: str  # dictionary normal form: 出来ません → 出来る / ます / ず
    reading: str  # katakana
    start: int  # character offsets in the analysed text
    end: int
    oov: bool = False  # not in Sudachi's dictionary (ヨクオン, ロコン)

    @property
    def is_symbol(self) -> bool:
        return self.pos[0] in ("補助記号", "空白", "記号")


def has_japanese(text: str) -> bool:
    """Whether the text has any Japanese character (so Japanese rules apply to it)."""
    return _JAPANESE_CHAR.search(text) is not None


def _dictionary():  # noqa: ANN202 - sudachipy types are not exported
    d = getattr(_local, "dictionary", None)
    if d is None:
        from sudachipy import dictionary

        d = dictionary.Dictionary(dict="core")
        _local.dictionary = d
    return d


def _tokenizer():  # noqa: ANN202 - sudachipy types are not exported
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        tok = _dictionary().create()
        _local.tokenizer = tok
    return tok


def lookup(surface: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every dictionary entry spelt exactly ``surface``: (katakana reading, part of
    speech) — 開 → カイ (noun), ヒラケ (verb)…"""
    return [(m.reading_form(), tuple(m.part_of_speech()))
            for m in _dictionary().lookup(surface) if m.surface() == surface]


def tokens(text: str) -> list[Token]:
    """Morphemes of ``text`` with offsets into ``text``. Very long text is cut into
    slices (Sudachi refuses inputs over ~49 kB); garbage characters are tokenised as
    unknown words, never an error."""
    from sudachipy import SplitMode

    out: list[Token] = []
    tok = _tokenizer()
    for base in range(0, len(text), MAX_CHARS):
        piece = text[base: base + MAX_CHARS]
        for m in tok.tokenize(piece, SplitMode.C):
            out.append(Token(m.surface(), tuple(m.part_of_speech()), m.normalized_form(),
                             m.reading_form(), base + m.begin(), base + m.end(),
                             m.is_oov()))
    return out


def mora_count_of_reading(reading: str) -> int:
    """Morae in a katakana reading: every kana counts except small ャュョァ…; ー, ッ and
    ン count one each. Non-kana characters (symbols, Latin) count nothing."""
    n = 0
    for ch in reading:
        if ch in _SMALL:
            continue
        if "\u30a1" <= ch <= "\u30fc" or "\u3041" <= ch <= "\u3096":
            n += 1
    return n


@lru_cache(maxsize=4096)
def mora_count(text: str) -> int:
    """Morae spoken in ``text`` (by Sudachi's readings)."""
    return sum(mora_count_of_reading(t.reading) for t in tokens(text) if not t.is_symbol)
