"""Shared pieces of the PII detector: the types, a 1:1 character view of the text with
digits made ASCII, the configuration, the nearest preceding context word, and findings
before they become dicts."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rokuon.engine.analysis.context import finding
from rokuon.engine.analysis.spans import time_span
from rokuon.engine.types import Segment
from rokuon.text.normalize import normalize

VERSION = 2  # 2: card windows, card expiry in PCI, names by context
PCI_TYPES = ("card_number", "card_expiry", "card_cvv")
TYPES = ("person_name", "staff_name", "address", "phone", "email", "card_number",
         "card_expiry", "card_cvv", "my_number", "bank_account", "birth_date")
NER_MODEL = "ja_ginza"
MASK = "＊"

log = logging.getLogger(__name__)

# higher wins when two findings overlap in one segment
_PRIORITY = {"email": 11, "card_number": 10, "card_cvv": 9, "card_expiry": 8, "my_number": 7,
             "phone": 6, "bank_account": 5, "birth_date": 4, "address": 3, "staff_name": 2,
             "person_name": 1}
# numeric types keep their separators when masked (「＊＊＊＊、＊＊＊＊」)
_NUMERIC = frozenset({"card_number", "card_cvv", "card_expiry", "phone", "my_number",
                      "bank_account", "birth_date"})
_MASK_KEEP = frozenset("、,，-‐−－・.．の/ 　")
_NUMBER_CTX = frozenset({"other_number", "card_number", "card_cvv", "card_expiry",
                         "my_number", "bank_account", "phone"})

_MAX_CHUNKS_PER_SEGMENT = 1000  # a segment is ≤ 30 s of speech: more is garbage
_MAX_KATAKANA_RUN = 120
_RUN_MAX_DIGITS = 22  # a card (≤ 19) and a few digits speech recognition added
_NER_MAX_CHARS = 1000  # GiNZA costs ~1 ms a character on long text: rules only beyond
_MORPHOLOGY_MAX_CHARS = 20_000  # no segment of speech is this long: no names/addresses beyond
_NER_CACHE = 4096

# ---------------------------------------------------------------------------------------
# characters: a 1:1 view of the text (offsets stay valid) with digits made ASCII

_KANJI_DIGITS = {"〇": "0", "○": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4",
                 "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_READINGS = {"ゼロ": "0", "レイ": "0", "マル": "0", "イチ": "1", "ニ": "2", "ニー": "2",
             "サン": "3", "ヨン": "4", "ヨ": "4", "シ": "4", "ゴ": "5", "ゴー": "5", "ロク": "6",
             "ナナ": "7", "シチ": "7", "ハチ": "8", "キュウ": "9", "キュー": "9", "ク": "9"}
_MAX_READING = max(len(r) for r in _READINGS)
_SEPARATORS = frozenset("、,-‐−–—・.の ー/") | frozenset(" \t\u3000")
_SOFT_GAP = frozenset("、,。.!?！？ 　・-ー")  # around a number split over two segments
_ASCII_DIGITS = frozenset("0123456789")


def _is_katakana(c: str) -> bool:
    return "\u30a1" <= c <= "\u30f6" or c == "ー"


@lru_cache(maxsize=16384)
def _view_char(c: str) -> str:
    if c in _KANJI_DIGITS:
        return _KANJI_DIGITS[c]
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"
    n = normalize(c, fold_kana=False)  # the project's normaliser, one character at a time
    return n if len(n) == 1 else c


def _view(text: str) -> str:
    """``text`` with full-width forms folded (NFKC, lower case) and kanji digits made
    ASCII, character for character, so offsets into it are offsets into ``text``."""
    return "".join(map(_view_char, text))


def _safe(text: str) -> str:
    """Same length, without lone surrogates (Sudachi cannot encode them)."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


# ---------------------------------------------------------------------------------------
# configuration


@dataclass
class _Config:
    types: set[str]
    ner: bool
    join_window_s: float
    context_window_s: float
    context_segments: int
    max_findings: int
    context: list[tuple[str, str]]  # (category, normalised word)
    company_suffixes: tuple[str, ...]
    company_names: tuple[str, ...]
    honorifics: tuple[str, ...]  # longest first
    staff_after: list[str]  # longest first
    staff_after_agent: list[str]
    staff_before: list[str]
    relatives: list[str] = field(default_factory=list)  # 家内, 妻 … (before の + a name)
    not_names: frozenset[str] = frozenset()  # お客, 皆 … (before さん: no name)
    uncertain_names: bool = True  # name-like spans the detector is unsure of, for masking
    pci_window_s: float = 30.0  # a card window stays open this long after its last line


def _words(value: Any) -> list[str]:
    return [str(v) for v in value or [] if str(v).strip()] if isinstance(value, list) else []


def _config(cfg: dict[str, Any]) -> _Config:
    p = cfg.get("pii")
    if not isinstance(p, dict):  # a configuration without the pii section: the defaults
        from rokuon.engine.analysis.config import load_config

        p = load_config().get("pii") or {}
    ctx = p.get("context") if isinstance(p.get("context"), dict) else {}
    words = [(str(cat), normalize(w)) for cat, ws in ctx.items() for w in _words(ws)]
    types = set(_words(p.get("types"))) or set(TYPES)
    return _Config(
        types=types, ner=bool(p.get("ner", True)),
        join_window_s=float(p.get("join_window_s", 15)),
        context_window_s=float(p.get("context_window_s", 30)),
        context_segments=int(p.get("context_segments", 3)),
        max_findings=int(p.get("max_findings", 2000)),
        context=[(c, w) for c, w in words if w],
        company_suffixes=tuple(_view(w) for w in _words(p.get("company_suffixes"))),
        company_names=tuple(_view(w) for w in _words(p.get("company_names"))),
        honorifics=tuple(sorted((_view(w) for w in _words(p.get("honorifics"))), key=len,
                                reverse=True)) or ("様", "さん"),
        staff_after=sorted((_view(w) for w in _words(p.get("staff_after"))), key=len,
                           reverse=True),
        staff_after_agent=[_view(w) for w in _words(p.get("staff_after_agent"))],
        staff_before=[_view(w) for w in _words(p.get("staff_before"))],
        relatives=[_view(w) for w in _words(p.get("relatives"))],
        not_names=frozenset(_view(w) for w in _words(p.get("not_names"))),
        uncertain_names=bool(p.get("uncertain_names", True)),
        pci_window_s=float(p.get("pci_window_s", 30)))


# ---------------------------------------------------------------------------------------
# what the nearest preceding context word says


class _Context:
    """The category of the nearest context word before a position, looking back through
    the segment and a few earlier segments of either speaker."""

    _SAME_SEGMENT = 80  # characters before the item
    _EARLIER = 200  # characters at the end of an earlier segment

    def __init__(self, segments: list[Segment], conf: _Config) -> None:
        self.segments = segments
        self.conf = conf
        self._tails: dict[int, str] = {}
        self._memo: dict[tuple[int, int], str | None] = {}

    def _last_word(self, text: str) -> str | None:
        best: tuple[int, int, str] | None = None
        for cat, word in self.conf.context:
            p = text.rfind(word)
            if p < 0:
                continue
            key = (p + len(word), len(word), cat)
            if best is None or key[:2] > best[:2]:
                best = key
        return best[2] if best else None

    def category_in(self, text: str) -> str | None:
        """The category of the last context word in ``text`` (None: there is none)."""
        return self._last_word(normalize(text))

    def _tail(self, idx: int) -> str:
        if idx not in self._tails:
            self._tails[idx] = normalize(self.segments[idx].text[-self._EARLIER:])
        return self._tails[idx]

    def nearest(self, idx: int, char: int) -> str | None:
        key = (idx, char)
        if key not in self._memo:
            self._memo[key] = self._find(idx, char)
        return self._memo[key]

    def _find(self, idx: int, char: int) -> str | None:
        seg = self.segments[idx]
        here = self._last_word(normalize(seg.text[max(0, char - self._SAME_SEGMENT):char]))
        if here is not None:
            return here
        for j in range(idx - 1, max(-1, idx - 1 - self.conf.context_segments), -1):
            if seg.start - self.segments[j].end > self.conf.context_window_s:
                break
            found = self._last_word(self._tail(j))
            if found is not None:
                return found
        return None


# ---------------------------------------------------------------------------------------
# findings before they become dicts


@dataclass
class _Item:
    type: str
    parts: list[tuple[int, int, int]]  # (segment index, start char, end char)
    source: str
    confidence: float
    hint: str | None = None
    group: int | None = None  # pieces of one answer, joined again after overlaps are resolved


def _to_dict(item: _Item, segments: list[Segment]) -> dict[str, Any]:
    first, last = item.parts[0], item.parts[-1]
    start = time_span(segments[first[0]], first[1], first[2])[0]
    end = time_span(segments[last[0]], last[1], last[2])[1]
    return finding(first[0], segments[first[0]], start, max(start, end), type=item.type,
                   chars=[[s, a, b] for s, a, b in item.parts], source=item.source,
                   confidence=round(min(1.0, max(0.0, item.confidence)), 2),
                   hint=item.hint)


def _coverage(n: int, spans: Iterable[tuple[int, int]]) -> bytearray:
    """1 for every position covered by one of ``spans``."""
    out = bytearray(n + 1)
    for a, b in spans:
        out[max(0, a): max(0, min(n, b))] = b"\x01" * max(0, min(n, b) - max(0, a))
    return out


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
_NAME_CHAR = re.compile(r"[\u30a0-\u30ff\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class _Seg:
    idx: int
    seg: Segment
    view: str
    tokens: list[Any]  # rokuon.text.japanese.Token
    entities: tuple[tuple[str, int, int], ...] = ()


def _tokens(text: str) -> list[Any]:
    from rokuon.text.japanese import tokens

    if len(text) > _MORPHOLOGY_MAX_CHARS:
        log.warning("pii: a %d-character segment: not searched for names or addresses",
                    len(text))
        return []
    try:
        return tokens(_safe(text))
    except Exception as exc:  # noqa: BLE001 - morphology failing must not lose the call
        log.warning("pii: tokenizer failed: %s", exc)
        return []

