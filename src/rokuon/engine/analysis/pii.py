"""Personal data in a call: names, the agent's own name, addresses, phone numbers,
e-mail addresses, card numbers / expiry / security codes, My Number, bank accounts and
dates of birth — found in the transcript as Whisper writes speech.

Numbers are read the way they are spoken: 「090の3456の7812」, full-width digits,
kanji digits 〇一二…九, katakana readings (ゼロキューゼロ…), separators (、 - の space)
and digits split over consecutive segments of one speaker (a card read in two or three
goes). What a number is comes from its structure (Luhn, My Number check digit, phone
prefixes) and from the nearest preceding context word (カード番号, 有効期限,
お問い合わせ番号 …, in either speaker's recent segments; lists in defaults/pii.yaml).
Names and addresses come from GiNZA's named entities (loaded lazily, once per process)
plus Sudachi's proper-noun tags; without GiNZA the detector runs on rules alone.

A finding records type, speaker, times and character positions, never the value: the
stored analysis must not hold card numbers. ``mask_segments`` replaces the characters
of chosen findings by ＊ (PCI mode masks card numbers and security codes)."""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from rokuon.engine.analysis.context import CallInput, finding
from rokuon.engine.analysis.spans import time_span
from rokuon.engine.types import Segment, Word
from rokuon.text.normalize import normalize

VERSION = 1
PCI_TYPES = ("card_number", "card_cvv")
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
        staff_before=[_view(w) for w in _words(p.get("staff_before"))])


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


def _to_dict(item: _Item, segments: list[Segment]) -> dict[str, Any]:
    first, last = item.parts[0], item.parts[-1]
    start = time_span(segments[first[0]], first[1], first[2])[0]
    end = time_span(segments[last[0]], last[1], last[2])[1]
    return finding(first[0], segments[first[0]], start, max(start, end), type=item.type,
                   chars=[[s, a, b] for s, a, b in item.parts], source=item.source,
                   confidence=round(min(1.0, max(0.0, item.confidence)), 2),
                   hint=item.hint)


# ---------------------------------------------------------------------------------------
# numbers: digit chunks, joined into windows, classified


@dataclass
class _Chunk:
    seg: int
    start: int
    end: int
    digits: str
    blocked: bool = False


def _katakana_digits(run: str, base: int) -> list[tuple[int, int, str]] | None:
    """A katakana run read as digits (ゼロキューゼロ → 0 9 0), each with its offsets;
    None unless the whole run is digit readings (ー may stand alone as a separator)."""
    n = len(run)
    if n > _MAX_KATAKANA_RUN:
        return None
    back: list[tuple[int, str] | None] = [None] * (n + 1)
    back[0] = (0, "")
    for i in range(n):
        if back[i] is None:
            continue
        if run[i] == "ー" and back[i + 1] is None:
            back[i + 1] = (i, "")
        for k in range(1, min(_MAX_READING, n - i) + 1):
            digit = _READINGS.get(run[i: i + k])
            if digit is not None:
                back[i + k] = (i, digit)
    if back[n] is None:
        return None
    out: list[tuple[int, int, str]] = []
    i = n
    while i > 0:
        prev, digit = back[i]  # type: ignore[misc]
        if digit:
            out.append((base + prev, base + i, digit))
        i = prev
    return out[::-1] if out else None


def _digit_tokens(view: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, digit) for every spoken or written digit of the text."""
    i, n = 0, len(view)
    while i < n:
        c = view[i]
        if c in _ASCII_DIGITS:
            yield i, i + 1, c
            i += 1
        elif _is_katakana(c):
            j = i
            while j < n and _is_katakana(view[j]):
                j += 1
            yield from _katakana_digits(view[i:j], i) or ()
            i = j
        else:
            i += 1


def _chunks(view: str, seg_idx: int) -> list[_Chunk]:
    """Runs of adjacent digits (one chunk per group the speaker said in one go)."""
    out: list[_Chunk] = []
    for a, b, d in _digit_tokens(view):
        if out and out[-1].end == a:
            out[-1].end, out[-1].digits = b, out[-1].digits + d
            continue
        if len(out) >= _MAX_CHUNKS_PER_SEGMENT:
            break
        out.append(_Chunk(seg_idx, a, b, d))
    return out


def _gap_kind(view: str, a: int, b: int, ctx: _Context) -> str | None:
    """tight: separators only; loose: a few other characters (えーと, or a digit Whisper
    heard as a word: 4号39); None: too far apart or a context word between them."""
    gap = view[a:b]
    if len(gap) <= 3 and all(c in _SEPARATORS for c in gap):
        return "tight"
    if len(gap) <= 5 and not any(c in "。？！?!" for c in gap) and ctx.category_in(gap) is None:
        return "loose"
    return None


def _soft(text: str) -> int:
    """Characters of ``text`` that are neither punctuation nor a short word like です."""
    core = "".join(c for c in text if c not in _SOFT_GAP)
    for w in ("です", "で", "えーと", "えっと", "あと", "それから", "えー", "あの"):
        core = core.replace(w, "")
    return len(core)


@dataclass
class _Window:
    chunks: list[_Chunk]
    digits: str
    tight: bool  # every link between its chunks is separators only, in one segment
    ids: tuple[int, ...] = field(default_factory=tuple)  # chunk positions of the speaker

    def parts(self) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        for c in self.chunks:
            if out and out[-1][0] == c.seg:
                out[-1] = (c.seg, out[-1][1], c.end)
            else:
                out.append((c.seg, c.start, c.end))
        return out


def _links(chunks: list[_Chunk], views: list[str], segments: list[Segment], ctx: _Context,
           conf: _Config) -> list[str | None]:
    """How each chunk connects to the next one of the same speaker. Over a segment
    boundary only when little else was said around the digits and no new context word
    (the agent asking for the expiry date) came in between."""
    out: list[str | None] = []
    for a, b in zip(chunks, chunks[1:], strict=False):
        if a.seg == b.seg:
            out.append(_gap_kind(views[a.seg], a.end, b.start, ctx))
            continue
        close = segments[b.seg].start - segments[a.seg].end <= conf.join_window_s
        short = _soft(views[a.seg][a.end:]) <= 6 and _soft(views[b.seg][:b.start]) <= 6
        same = ctx.nearest(b.seg, b.start) in (None, ctx.nearest(a.seg, a.start))
        out.append("cross" if close and short and same else None)
    return out


def _runs_of(chunks: list[_Chunk], links: list[str | None], segments: list[Segment],
             conf: _Config) -> list[_Window]:
    """Maximal stretches of linked chunks (what one answer read out), ≤ 22 digits."""
    runs: list[list[int]] = []
    for i, c in enumerate(chunks):
        cur = runs[-1] if runs else []
        if cur and i - 1 == cur[-1] and links[i - 1] is not None and not c.blocked and (
                segments[c.seg].start - segments[chunks[cur[0]].seg].start
                <= conf.join_window_s) and sum(len(chunks[k].digits) for k in cur) + len(
                    c.digits) <= _RUN_MAX_DIGITS:
            cur.append(i)
        elif not c.blocked:
            runs.append([i])
    return [_Window([chunks[k] for k in run], "".join(chunks[k].digits for k in run),
                    all(links[k] == "tight" for k in run[:-1]), tuple(run)) for run in runs]


def _windows(chunks: list[_Chunk], links: list[str | None], segments: list[Segment],
             conf: _Config) -> Iterable[_Window]:
    """Every run of consecutive chunks with 3–19 digits said within the join window."""
    for i, first in enumerate(chunks):
        if first.blocked or len(first.digits) > 19:
            continue
        digits, tight = "", True
        for j in range(i, len(chunks)):
            c = chunks[j]
            if j > i:
                link = links[j - 1]
                if link is None or c.blocked:
                    break
                tight = tight and link == "tight"
                if segments[c.seg].start - segments[first.seg].start > conf.join_window_s:
                    break
            digits += c.digits
            if len(digits) > 19:
                break
            if len(digits) >= 3:
                yield _Window(chunks[i: j + 1], digits, tight, tuple(range(i, j + 1)))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def my_number_ok(digits: str) -> bool:
    """The 12-digit individual number's check digit (the last digit)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = sum(int(body[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    rem = total % 11
    return int(digits[11]) == (0 if rem <= 1 else 11 - rem)


_IIN = re.compile(r"4|5[1-5]|2[2-7]|3[4-9]|30|6(?:011|2|4|5)|1")


def _card(w: _Window, ctx: str | None) -> tuple[float, str] | None:
    d = w.digits
    if not 13 <= len(d) <= 19 or d[0] == "0" or len(set(d)) < 3 or not luhn_ok(d):
        return None
    if ctx in ("other_number", "my_number", "bank_account"):
        return None
    shaped = [len(c.digits) for c in w.chunks] in ([4, 4, 4, 4], [4, 6, 5], [4, 6, 4])
    known = _IIN.match(d) is not None
    if ctx != "card_number" and (not known or (not w.tight and not shaped)):
        return None
    conf = 0.6 + (0.2 if known else 0) + (0.2 if ctx == "card_number" else 0)
    return conf + (0.05 if len(d) == 16 else 0), f"****{d[-4:]}"


def _phone(w: _Window, ctx: str | None) -> float | None:
    d = w.digits
    if len(d) not in (10, 11) or d[0] != "0" or d[1] == "0" or len(set(d)) < 3:
        return None
    strong = (len(d) == 11 and d[:3] in ("070", "080", "090", "050")) or (
        len(d) == 10 and d[:4] in ("0120", "0800"))
    if ctx == "other_number" or (ctx in _NUMBER_CTX and ctx != "phone" and not strong):
        return None
    if not w.tight and ctx != "phone":
        return None
    if ctx == "phone":
        return 0.95
    return 0.85 if strong else (0.6 if len(d) == 10 else None)


def _other_numeric(w: _Window, ctx: str | None) -> tuple[str, float] | None:
    d = w.digits
    if len(d) == 12 and len(set(d)) >= 3 and my_number_ok(d) and (
            ctx == "my_number" or (ctx is None and w.tight)):
        return "my_number", 0.95 if ctx == "my_number" else 0.6
    if len(d) == 7 and ctx == "bank_account":
        return "bank_account", 0.9
    if not w.tight:
        return None
    if len(d) == 4 and ctx == "card_expiry" and 1 <= int(d[:2]) <= 12:
        return "card_expiry", 0.85
    if len(d) in (3, 4) and ctx == "card_cvv":
        return "card_cvv", 0.9
    return None


def _classify(w: _Window, ctx: str | None) -> tuple[str, float, str | None] | None:
    card = _card(w, ctx)
    if card is not None:
        return "card_number", card[0], card[1]
    phone = _phone(w, ctx)
    if phone is not None:
        return "phone", phone, None
    other = _other_numeric(w, ctx)
    return (other[0], other[1], None) if other else None


def _answered(run: _Window, near: str | None) -> tuple[str, float, str | None] | None:
    """PCI first: digits read out right after a card number (or security code) was asked
    for are that, whole, even where speech recognition broke Luhn (「4号39 27 18 6 04 35
    12 4」 for 4539 2718 6045 3124) — storing most of a card in the clear is the worse
    error."""
    d = run.digits
    if near == "card_number" and 12 <= len(d) <= _RUN_MAX_DIGITS and len(set(d)) >= 3:
        valid = any(13 <= len(w) <= 19 and luhn_ok(w) for w in _chunk_spans(run))
        return "card_number", 0.95 if valid else 0.5, f"****{d[-4:]}"
    if near == "card_cvv" and 2 <= len(d) <= 5 and not (run.tight and len(d) in (3, 4)):
        return "card_cvv", 0.5, None
    return None


def _chunk_spans(run: _Window) -> Iterable[str]:
    """The digits of every stretch of whole chunks in a run."""
    for i in range(len(run.chunks)):
        digits = ""
        for c in run.chunks[i:]:
            digits += c.digits
            yield digits


def _numbers(chunks_by_seg: list[list[_Chunk]], views: list[str], segments: list[Segment],
             ctx: _Context, conf: _Config) -> list[_Item]:
    by_speaker: dict[str, list[_Chunk]] = {}
    for idx, chunks in enumerate(chunks_by_seg):
        by_speaker.setdefault(segments[idx].speaker, []).extend(chunks)
    items: list[_Item] = []
    for chunks in by_speaker.values():
        links = _links(chunks, views, segments, ctx, conf)
        used: set[int] = set()
        for run in _runs_of(chunks, links, segments, conf):
            first = run.chunks[0]
            got = _answered(run, ctx.nearest(first.seg, first.start))
            if got is not None:
                used.update(run.ids)
                items.append(_Item(got[0], run.parts(), "rule", got[1], got[2]))
        found: list[tuple[int, float, int, _Window, str, str | None]] = []
        for w in _windows(chunks, links, segments, conf):
            first = w.chunks[0]
            got = _classify(w, ctx.nearest(first.seg, first.start))
            if got is not None and used.isdisjoint(w.ids):
                kind, score, hint = got
                found.append((_PRIORITY[kind], score, len(w.digits), w, kind, hint))
        found.sort(key=lambda f: (-f[0], -f[1], -f[2]))
        for _, score, _, w, kind, hint in found:
            if used.isdisjoint(w.ids):
                used.update(w.ids)
                items.append(_Item(kind, w.parts(), "rule", score, hint))
    return items


# ---------------------------------------------------------------------------------------
# dates: expiry and birth dates

_ERA = r"(?P<era>昭和|平成|令和|大正)?\s?(?<![0-9十])"
_YEAR = r"(?P<y>[0-9]{2} [0-9]{2}|[0-9十]{1,4}|元)"  # 「19 79年」: Whisper splits years
_FULL_DATE = re.compile(_ERA + _YEAR + r"\s?年\s?の?\s?(?P<m>[0-9十]{1,3})\s?月"
                        r"\s?の?\s?(?P<d>[0-9十]{1,3})\s?日")
_NUM_DATE = re.compile(r"(?<![0-9])(?P<y>(?:19|20)[0-9]{2})\s?(?P<s>[/.-])\s?(?P<m>[0-9]{1,2})"
                       r"\s?(?P=s)\s?(?P<d>[0-9]{1,2})(?![0-9])")
_YEAR_MONTH = re.compile(_ERA + _YEAR + r"\s?年\s?の?\s?(?P<m>[0-9十]{1,3})\s?月")
_MONTH_YEAR = re.compile(r"(?<![0-9十])(?P<m>[0-9十]{1,3})\s?月\s?の?\s?(?P<y>[0-9十]{2,4})\s?年")
_SLASH_EXPIRY = re.compile(r"(?<![0-9/])(?P<m>[0-9]{1,2})\s?/\s?(?P<y>[0-9]{2}|[0-9]{4})(?![0-9/])")
_ERA_YEARS = {"昭和": 64, "平成": 31, "令和": 99, "大正": 15}
_THIS_YEAR = datetime.date.today().year


def _small_number(s: str) -> int | None:
    """28, 二十八 (2十8 in the view), 十二, 元 → int; None for anything else."""
    if s == "元":
        return 1
    s = s.replace(" ", "")
    if "十" not in s:
        return int(s) if s.isdigit() else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (int(tens) if tens else 1) * 10 + (int(ones) if ones else 0)


def _birth_year_ok(m: re.Match[str]) -> bool:
    y = _small_number(m.group("y"))
    era = m.groupdict().get("era")
    if y is None:
        return False
    if era:
        return 1 <= y <= _ERA_YEARS[era]
    return 1900 <= y <= 2100 or (len(m.group("y")) <= 2 and y < 100)


def _date_ok(m: re.Match[str]) -> bool:
    month, day = _small_number(m.group("m")), _small_number(m.group("d"))
    return (month is not None and day is not None and 1 <= month <= 12 and 1 <= day <= 31
            and _birth_year_ok(m))


def _expiry_ok(m: re.Match[str]) -> bool:
    month, year = _small_number(m.group("m")), _small_number(m.group("y"))
    if month is None or year is None or not 1 <= month <= 12:
        return False
    return year < 100 or 2000 <= year <= 2099


def _long_ago(m: re.Match[str], era: str | None) -> bool:
    """A full date of the 昭和 era, or a year at least 16 years back: in a service call
    that is a date of birth far more often than anything else."""
    if era in ("昭和", "大正"):
        return True
    year = _small_number(m.group("y"))
    return era is None and year is not None and 1900 <= year <= _THIS_YEAR - 16


def _coverage(n: int, spans: Iterable[tuple[int, int]]) -> bytearray:
    """1 for every position covered by one of ``spans``."""
    out = bytearray(n + 1)
    for a, b in spans:
        out[max(0, a): max(0, min(n, b))] = b"\x01" * max(0, min(n, b) - max(0, a))
    return out


def _dates(idx: int, view: str, ctx: _Context) -> tuple[list[_Item], list[tuple[int, int]]]:
    """Birth dates and card expiry dates in one segment, and every date-like span (the
    digits in them are no card or phone number)."""
    items: list[_Item] = []
    spans: list[tuple[int, int]] = []
    for rx in (_FULL_DATE, _NUM_DATE):
        for m in rx.finditer(view):
            spans.append(m.span())
            if not _date_ok(m):
                continue
            near = ctx.nearest(idx, m.start())
            after = view[m.end(): m.end() + 4]
            era = m.groupdict().get("era")
            if near == "birth_date" or after.lstrip().startswith(("生まれ", "生")):
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.9))
            elif _long_ago(m, era):  # whatever was asked before: a date is no number
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.6))
    covered = _coverage(len(view), spans)
    for rx in (_YEAR_MONTH, _MONTH_YEAR, _SLASH_EXPIRY):
        for m in rx.finditer(view):
            if covered[m.start()]:
                continue
            spans.append(m.span())
            near = ctx.nearest(idx, m.start())
            if near == "card_expiry" and _expiry_ok(m):
                items.append(_Item("card_expiry", [(idx, *m.span())], "rule", 0.9))
            elif near == "birth_date" and rx is _YEAR_MONTH:
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.7))
    return items, spans


# ---------------------------------------------------------------------------------------
# e-mail addresses, written and spoken (yamada ドット hanako アットマーク example ドット jp)

_AT = re.compile(r"@|アットマーク|あっとまーく|アット|あっと")
_DOT_WORDS = r"\.|ドット|ドッド|どっと|ピリオド"
_DOT = f"(?:{_DOT_WORDS})"
_LOCAL_LEFT = re.compile(r"[a-z0-9_][a-z0-9_+-]{0,63}(?:\s?(?:" + _DOT_WORDS +
                         r"|ハイフン|アンダーバー|アンダースコア)\s?[a-z0-9_][a-z0-9_+-]{0,63})"
                         r"{0,8}\s?$")
_DOMAIN_RIGHT = re.compile(r"\s?[a-z0-9][a-z0-9-]{0,62}(?:\s?" + _DOT +
                           r"\s?[a-z0-9][a-z0-9-]{0,62}){1,8}")
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_LOCAL_CHARS = _ASCII_WORD | frozenset("+-. ドットどっとピリオハイフンアンダーバースコア")
_SPOKEN_AT = ("アットマーク", "あっとまーく")
_EMAIL_STOP = frozenset("、。,!?！？「」()（）:： \t\u3000")
_EMAIL_END = ("です", "でございます", "になります", "でお願い", "までお", "まで")
_DOT_END = re.compile(_DOT + r"$")
_CONTINUATION = re.compile(r"\s?[a-z0-9](?:\s?[a-z0-9-]){0,30}")


def _neighbour(view: str, i: int, step: int) -> str:
    """The character next to position ``i`` (skipping one space) in direction ``step``."""
    j = i if step > 0 else i - 1
    if 0 <= j < len(view) and view[j] == " ":
        j += step
    return view[j] if 0 <= j < len(view) else ""


def _ascii_email(view: str, m: re.Match[str]) -> tuple[int, int] | None:
    """yamada.hanako@example.jp, or the same with spoken ドット / アットマーク."""
    if _neighbour(view, m.start(), -1) not in _ASCII_WORD or \
            _neighbour(view, m.end(), 1) not in _ASCII_WORD:
        return None
    lo = m.start()
    while lo > 0 and m.start() - lo < 120 and view[lo - 1] in _LOCAL_CHARS:
        lo -= 1
    left = _LOCAL_LEFT.search(view, lo, m.start())
    right = _DOMAIN_RIGHT.match(view, m.end())
    return (left.start(), right.end()) if left and right else None


def _kana_email(view: str, m: re.Match[str], intro: list[str]) -> tuple[int, int] | None:
    """An address read out in kana: 山田ドッド花子アットマークイグザンプルドッドjp — the
    words around アットマーク up to punctuation, after 「メールアドレスは」, before です."""
    if m.group() not in _SPOKEN_AT:
        return None
    lo = m.start()
    while lo > 0 and m.start() - lo < 40 and view[lo - 1] not in _EMAIL_STOP:
        lo -= 1
    folded = normalize(view[lo: m.start()])  # 1:1 here: no spaces in the stretch
    cuts = [folded.rfind(w) + len(w) for w in intro if w in folded]
    if cuts and len(folded) == m.start() - lo:
        lo += max(cuts)
        while lo < m.start() and view[lo] in "はがをも":
            lo += 1
    hi = m.end()
    while hi < len(view) and hi - m.end() < 40 and view[hi] not in _EMAIL_STOP:
        hi += 1
    tail = view[m.end(): hi]
    ends = [tail.find(w) for w in _EMAIL_END if w in tail]
    hi = m.end() + min(ends) if ends else hi
    return (lo, hi) if lo < m.start() and hi > m.end() else None


def _emails(idx: int, view: str, follow: tuple[int, str] | None, intro: list[str]
            ) -> list[_Item]:
    """E-mail addresses; one read over two segments (「…イグザンプルドッド」「JPです」)
    continues into the next segment of the same speaker (``follow``: its index, view)."""
    items: list[_Item] = []
    said = len(view.rstrip("".join(_EMAIL_STOP)))  # the end of what was said
    for m in _AT.finditer(view):
        span = _ascii_email(view, m)
        conf = 0.95 if m.group() == "@" else 0.85
        if span is None:
            span, conf = _kana_email(view, m, intro), 0.7
        if span is None:
            continue
        parts = [(idx, *span)]
        cont = _CONTINUATION.match(follow[1]) if follow and span[1] == said and \
            _DOT_END.search(view, max(0, span[1] - 6), span[1]) else None
        if follow is not None and cont is not None:
            parts.append((follow[0], cont.start() + (1 if cont.group()[:1].isspace() else 0),
                          cont.end()))
        items.append(_Item("email", parts, "rule", conf))
    return items


def _follower(segments: list[Segment], idx: int, within_s: float = 5.0) -> int | None:
    """The next segment of the same speaker, if it starts within ``within_s``."""
    for j in range(idx + 1, min(len(segments), idx + 4)):
        if segments[j].start - segments[idx].end > within_s:
            return None
        if segments[j].speaker == segments[idx].speaker:
            return j
    return None


# ---------------------------------------------------------------------------------------
# GiNZA named entities, loaded lazily once per process

_ner_lock = threading.Lock()
_ner_state: dict[str, Any] = {}  # "nlp": the pipeline, or "error": why it did not load


def _load_ner() -> Any | None:
    with _ner_lock:
        if "nlp" in _ner_state or "error" in _ner_state:
            return _ner_state.get("nlp")
        try:
            import spacy

            nlp = spacy.load(NER_MODEL, disable=["parser", "morphologizer",
                                                 "compound_splitter", "bunsetu_recognizer"])
        except Exception as exc:  # noqa: BLE001 - any failure means rules only
            _ner_state["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("pii: named entity model %s unavailable (%s); rules only",
                        NER_MODEL, _ner_state["error"])
            return None
        _ner_state["nlp"] = nlp
        return nlp


def ner_error() -> str | None:
    """Why GiNZA could not be loaded (None when it loaded or was never tried)."""
    return _ner_state.get("error")


@lru_cache(maxsize=_NER_CACHE)
def _entities(text: str) -> tuple[tuple[str, int, int], ...]:
    nlp = _load_ner()
    if nlp is None:
        return ()
    try:
        with _ner_lock:  # spaCy / Sudachi pipelines are not thread-safe
            doc = nlp(text)
    except Exception as exc:  # noqa: BLE001 - an odd text must not lose the call
        log.warning("pii: named entity recognition failed: %s", exc)
        return ()
    return tuple((e.label_, e.start_char, e.end_char) for e in doc.ents)


# ---------------------------------------------------------------------------------------
# names and addresses

_ADDRESS_LABELS = frozenset({"Province", "City", "County", "GPE_Other", "Domestic_Region",
                             "Location_Other"})
_UNITS = frozenset({"丁目", "番地", "番", "号", "号室", "階", "条", "丁", "番街"})
_UNIT_ENDINGS = ("丁目", "番地", "号")
_JOINERS = frozenset({"-", "−", "－", "ー", "‐", "の"})
# block numbers after a place name, maybe a misheard character between (新宿に丁目8番1号)
_BLOCK_TAIL = re.compile(r"[^\s、。,.0-9]{0,2}?(?:丁目|番地|番)?"
                         r"(?:[0-9十]{1,4}(?:丁目|番地|番|号室|号|の|-)?){1,12}")
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


def _address_chain(toks: list[Any], k: int) -> tuple[int, bool]:
    """From place-name token ``k``: the end of the place names and block numbers that
    follow it (二丁目八番一号, 1-2-3, 101号室), and whether it names a block."""
    end = last = toks[k].end
    numbers, unit = 0, toks[k].surface.endswith(_UNIT_ENDINGS)
    for i in range(k + 1, min(len(toks), k + 40)):
        t = toks[i]
        if t.start != last:
            break
        last = t.end
        if t.surface.isspace() or t.surface in _JOINERS:
            continue
        if t.pos[1] == "数詞" or t.surface.isdigit():
            numbers += 1
        elif t.surface in _UNITS:
            unit = unit or numbers > 0
        elif t.pos[2:3] != ("地名",):
            break
        end = t.end
    return end, numbers >= 2 or unit


def _addresses(s: _Seg, ctx: _Context) -> list[_Item]:
    out: list[_Item] = []
    toks = s.tokens
    for k, t in enumerate(toks):
        if t.pos[2:3] != ("地名",) or (k and toks[k - 1].pos[2:3] == ("地名",)
                                       and toks[k - 1].end == t.start):
            continue
        end, numbered = _address_chain(toks, k)
        if numbered or ctx.nearest(s.idx, t.start) == "address":
            out.append(_Item("address", [(s.idx, t.start, end)], "rule",
                             0.75 if numbered else 0.65))
    for label, a, b in s.entities:
        if label == "Postal_Address":
            out.append(_Item("address", [(s.idx, a, b)], "ner", 0.85))
        elif label in _ADDRESS_LABELS and ctx.nearest(s.idx, a) == "address":
            out.append(_Item("address", [(s.idx, a, b)], "ner", 0.7))
    merged = _merge_same(out, s.view, gap=2)
    for it in merged:
        seg, a, b = it.parts[0]
        tail = _BLOCK_TAIL.match(s.view, b)
        if tail and any(u in tail.group() for u in ("丁目", "番", "号", "-")):
            it.parts = [(seg, a, tail.end())]
    return merged


def _merge_same(items: list[_Item], view: str, gap: int = 0) -> list[_Item]:
    """Single-segment items of one type that overlap, or lie at most ``gap`` characters
    apart with no punctuation between, become one (sources combined)."""
    out: list[_Item] = []
    for it in sorted(items, key=lambda i: (i.type, i.parts[0])):
        prev = out[-1] if out else None
        between = view[prev.parts[0][2]: it.parts[0][1]] if prev else ""
        if prev is not None and prev.type == it.type and prev.parts[0][0] == it.parts[0][0] \
                and it.parts[0][1] <= prev.parts[0][2] + gap and not any(
                    c in "、。,.!?！？ 　" for c in between):
            seg, a, b = prev.parts[0]
            prev.parts = [(seg, a, max(b, it.parts[0][2]))]
            if prev.source != it.source:
                prev.source, prev.confidence = "ner", min(0.95, max(prev.confidence,
                                                                     it.confidence) + 0.1)
            continue
        out.append(_Item(it.type, list(it.parts), it.source, it.confidence, it.hint))
    return out


def _runs(toks: list[Any], tag: str) -> list[tuple[int, int]]:
    """Character spans of adjacent tokens whose third part-of-speech level is ``tag``."""
    out: list[tuple[int, int]] = []
    for t in toks:
        if t.pos[2:3] != (tag,):
            continue
        if out and out[-1][1] == t.start:
            out[-1] = (out[-1][0], t.end)
        else:
            out.append((t.start, t.end))
    return out


def _person_spans(s: _Seg, conf: _Config) -> list[tuple[int, int, str]]:
    """(start, end, source) of the person names in a segment: GiNZA Person entities and
    runs of Sudachi person-name tokens, without honorifics and company names."""
    spans = [(a, b, "ner") for label, a, b in s.entities if label == "Person"]
    spans += [(a, b, "rule") for a, b in _runs(s.tokens, "人名")]
    if len(s.view) <= _MORPHOLOGY_MAX_CHARS:
        spans += [(a, b, "rule") for a, b in _introduced(s.view, conf)]
    out: list[tuple[int, int, str]] = []
    for a, b, src in spans:
        a, b = _trim_name(s.view, a, b, conf)
        if b <= a or _company_like(s.view, a, b, conf):
            continue
        if src == "rule" and not _honoured(s.view, b, conf) and (
                b - a < 2 or _HIRAGANA.fullmatch(s.view[a:b])):
            continue  # Sudachi calls many a lone kanji a name: 林様 yes, 領 no; おね no
        out.append((a, b, src))
    return _merge_spans(out)


def _introduced(view: str, conf: _Config) -> Iterable[tuple[int, int]]:
    """Whatever stands between 担当の and さん / 様 (「担当の黙村さん」: a name the
    dictionaries do not know, or misheard)."""
    for word in conf.staff_before:
        start = view.find(word)
        while start >= 0:
            a = start + len(word)
            for b in range(a + 1, min(len(view), a + 5)):
                if not _NAME_CHAR.match(view[b - 1]):
                    break
                if view.startswith(conf.honorifics, b):
                    yield a, b
                    break
            start = view.find(word, a)


def _honoured(view: str, b: int, conf: _Config) -> bool:
    """An honorific (様, さん …) follows position ``b``."""
    after = view[b: b + 16].lstrip()
    return after.startswith(conf.honorifics)


def _trim_name(view: str, a: int, b: int, conf: _Config) -> tuple[int, int]:
    text = view[a:b]
    for h in conf.honorifics:
        if len(text) > len(h) and text.endswith(h):
            b -= len(h)
            break
    while b > a and not _CJK.match(view[b - 1]) and not view[b - 1].isalnum():
        b -= 1
    return a, b


def _company_like(view: str, a: int, b: int, conf: _Config) -> bool:
    name, after = view[a:b], view[b: b + 12]
    if not _CJK.search(name):
        return True  # ASCII "names" are e-mail parts or English words
    if name.endswith(conf.company_suffixes):
        return True
    if any(after.startswith(sfx) for sfx in conf.company_suffixes if len(sfx) > 1):
        return True
    # a company name overlapping the span (any occurrence found in this window does)
    return any(view.find(c, max(0, a - len(c) + 1), b + len(c) - 1) >= 0
               for c in conf.company_names)


def _merge_spans(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for a, b, src in sorted(spans):
        if out and a <= out[-1][1]:
            pa, pb, psrc = out[-1]
            out[-1] = (pa, max(pb, b), psrc if psrc == src else "both")
        else:
            out.append((a, b, src))
    return out


def _staff_role(s: _Seg, a: int, b: int, conf: _Config) -> bool | None:
    """True: a staff member's name (the agent's own, or 「担当の木村さん」); False: a
    customer or third party; None: a name said by the agent that nothing marks."""
    before = s.view[max(0, a - 16): a].rstrip()
    if any(before.endswith(p) for p in conf.staff_before):
        return True
    if _honoured(s.view, b, conf) or s.seg.speaker == "customer":
        return False
    after = s.view[b: b + 16].lstrip()
    for p in conf.staff_after:
        if p in conf.staff_after_agent and s.seg.speaker != "agent":
            continue  # 小林です。 from an unknown speaker may be the customer
        if after.startswith(p):
            return after[len(p): len(p) + 1] not in ("ね", "か")  # 田中一郎ですね: the customer
    if before.endswith("の") and before[:-1].endswith(conf.company_suffixes +
                                                      conf.company_names):
        return True
    return None


def _org_before(view: str, a: int) -> tuple[int, int]:
    """The stretch naming the organisation in 「<organisation>の<staff name>」."""
    if a == 0 or view[a - 1] != "の":
        return (a, a)
    lo = a - 1
    while lo > 0 and a - lo < 24 and view[lo - 1] not in "、。,.!?！？ 　":
        lo -= 1
    return (lo, a - 1)


def _names(segs: list[_Seg], conf: _Config) -> list[_Item]:
    """Person names, as staff_name where the name is marked as staff's anywhere in the
    call (「山田商事の佐藤でございます」 makes the later 「佐藤が承りました」 staff too; a
    customer's 「木村さん」 is staff once 「担当の木村さん」 was said). A name found
    once is found wherever else it is said, even where the dictionaries miss it."""
    found = _name_mentions(segs, conf)
    staff = {s.view[a:b] for s, a, b, _, role in found if role}
    found += _repeated(segs, found, staff, conf)
    items: list[_Item] = []
    for s, a, b, src, role in found:
        if not role and s.view[a:b] in staff and (
                s.seg.speaker != "agent" or not _honoured(s.view, b, conf)):
            role = True
        kind = "staff_name" if role else "person_name"
        score = {"both": 0.9, "ner": 0.8, "rule": 0.7}[src] + (0.05 if role else 0)
        items.append(_Item(kind, [(s.idx, a, b)], "rule" if src == "rule" else "ner", score))
    return items


_Mention = tuple[_Seg, int, int, str, bool | None]  # segment, span, source, staff?
_MAX_KNOWN_NAMES = 50


def _repeated(segs: list[_Seg], found: list[_Mention], staff: set[str], conf: _Config
              ) -> list[_Mention]:
    """Further mentions of staff names and of names GiNZA found (「黙村さんにも」)."""
    known = Counter(s.view[a:b] for s, a, b, src, role in found
                    if b - a >= 2 and (role or src != "rule"))
    names = [n for n, _ in known.most_common(_MAX_KNOWN_NAMES)]
    spans: dict[int, list[tuple[int, int]]] = {}
    for s, a, b, _, _ in found:
        spans.setdefault(s.idx, []).append((a, b))
    out: list[_Mention] = []
    for s in segs:
        if not names or len(s.view) > _MORPHOLOGY_MAX_CHARS:
            continue
        covered = _coverage(len(s.view), spans.get(s.idx, ()))
        for name in names:
            at = s.view.find(name)
            while at >= 0:
                if not any(covered[at: at + len(name)]) \
                        and not _company_like(s.view, at, at + len(name), conf):
                    out.append((s, at, at + len(name), "rule", name in staff or None))
                at = s.view.find(name, at + len(name))
    return out


def _name_mentions(segs: list[_Seg], conf: _Config) -> list[_Mention]:
    found: list[_Mention] = []
    for s in segs:
        spans = _person_spans(s, conf)
        roles = [_staff_role(s, a, b, conf) for a, b, _ in spans]
        orgs = [_org_before(s.view, a) for (a, _, _), r in zip(spans, roles, strict=True) if r]
        for (a, b, src), role in zip(spans, roles, strict=True):
            if any(lo <= a and b <= hi for lo, hi in orgs):
                continue  # 「山田小事の佐藤でございます」: 山田小事 is the company, misheard
            found.append((s, a, b, src, role))
    return found


def _wants_ner(s: _Seg, ctx: _Context, conf: _Config) -> bool:
    """GiNZA runs only where a name or address is plausible (it costs ~15 ms a segment)
    and on segments of speech length (a longer one is garbage or a runaway decode)."""
    if len(s.seg.text) > _NER_MAX_CHARS:
        return False
    if any(t.pos[1] == "固有名詞" or (t.pos[0] == "接尾辞" and t.surface in conf.honorifics)
           for t in s.tokens):
        return True
    if ctx.nearest(s.idx, len(s.seg.text)) in ("person_name", "address"):
        return True
    return any(p in s.view for p in conf.staff_after if len(p) > 2)


# ---------------------------------------------------------------------------------------
# the detector


def _resolve(items: list[_Item], lengths: list[int]) -> list[_Item]:
    """Drop an item overlapping a higher-priority (or same, more confident) one."""
    ranked = sorted(items, key=lambda i: (-_PRIORITY.get(i.type, 0), -i.confidence))
    taken: dict[int, bytearray] = {}
    kept: list[_Item] = []
    for it in ranked:
        marks = [(taken.setdefault(s, bytearray(lengths[s] + 1)), a, b) for s, a, b in it.parts]
        if any(any(m[a:b]) for m, a, b in marks):
            continue
        kept.append(it)
        for m, a, b in marks:
            m[a:b] = b"\x01" * len(m[a:b])
    return kept


def _block(chunks: list[_Chunk], spans: Iterable[tuple[int, int]], n: int) -> None:
    """Digits inside dates, e-mail addresses and addresses are no numbers of their own."""
    covered = _coverage(n, spans)
    for c in chunks:
        if any(covered[c.start: c.end]):
            c.blocked = True


def _ner_enabled(conf: _Config, language: str) -> bool:
    return conf.ner and language.lower().startswith("ja") and bool(
        conf.types & {"person_name", "staff_name", "address"})


def detect(segments: list[Segment], cfg: dict[str, Any], *, language: str = "ja"
           ) -> list[dict[str, Any]]:
    """Personal data in the segments, as findings without values (see the module doc)."""
    conf = _config(cfg)
    ctx = _Context(segments, conf)
    views = [_view(s.text) for s in segments]
    use_ner = _ner_enabled(conf, language) and _load_ner() is not None
    email_words = [w for cat, w in conf.context if cat == "email"]
    items: list[_Item] = []
    chunks_by_seg: list[list[_Chunk]] = []
    segs: list[_Seg] = []
    for idx, seg in enumerate(segments):
        view = views[idx]
        nxt = _follower(segments, idx)
        emails = _emails(idx, view, None if nxt is None else (nxt, views[nxt]), email_words)
        dates, date_spans = _dates(idx, view, ctx)
        s = _Seg(idx, seg, view, _tokens(seg.text))
        if use_ner and _wants_ner(s, ctx, conf):
            s.entities = _entities(_safe(seg.text))
        addresses = _addresses(s, ctx)
        chunks = _chunks(view, idx)
        _block(chunks, [*date_spans, *((a, b) for it in emails + addresses
                                       for i, a, b in it.parts if i == idx)], len(view))
        chunks_by_seg.append(chunks)
        segs.append(s)
        items += emails + dates + addresses
    items += _numbers(chunks_by_seg, views, segments, ctx, conf)
    items += _names(segs, conf)
    kept = [it for it in _resolve(items, [len(v) for v in views]) if it.type in conf.types]
    out = [_to_dict(it, segments) for it in kept]
    out.sort(key=lambda f: (f["start"], f["segment"], f["chars"][0][1]))
    return out[: conf.max_findings]


def analyze(inp: CallInput, cfg: dict[str, Any], prior: dict[str, Any]) -> list[dict[str, Any]]:
    found = detect(inp.segments, cfg, language=inp.language or "ja")
    conf = _config(cfg)
    if _ner_enabled(conf, inp.language or "ja") and ner_error() is not None:
        note = f"pii: names and addresses by rules only ({NER_MODEL} unavailable)"
        if note not in inp.notes:
            inp.notes.append(note)
    return found


# ---------------------------------------------------------------------------------------
# masking


def _masked_text(text: str, ranges: list[tuple[int, int, bool]]) -> str:
    chars = list(text)
    for a, b, numeric in ranges:
        for i in range(max(0, a), min(len(chars), b)):
            if not (numeric and chars[i] in _MASK_KEEP) and not chars[i].isspace():
                chars[i] = MASK
    return "".join(chars)


def _masked_times(seg: Segment, masked: str) -> list[tuple[float, float]]:
    """Seconds covered by each stretch of masked characters."""
    out: list[tuple[float, float]] = []
    start = None
    for i, (a, b) in enumerate(zip([*seg.text, ""], [*masked, ""], strict=True)):
        if a != b and start is None:
            start = i
        elif a == b and start is not None:
            out.append(time_span(seg, start, i))
            start = None
    return out


def _masked_words(seg: Segment, masked: str) -> list[Word]:
    """The segment's words with the characters masked in its text masked in them too;
    a word that cannot be placed in the text is masked whole when it overlaps a masked
    stretch in time."""
    times: list[tuple[float, float]] | None = None  # of the masked stretches, when needed
    out: list[Word] = []
    cursor = 0
    for w in seg.words:
        core = w.text.strip()
        lead = len(w.text) - len(w.text.lstrip())
        pos = seg.text.find(core, cursor, cursor + len(core) + 16) if core else -1
        if pos >= 0:
            new = w.text[:lead] + masked[pos: pos + len(core)] + w.text[lead + len(core):]
            cursor = pos + len(core)
        else:
            times = _masked_times(seg, masked) if times is None else times
            new = "".join(c if c.isspace() else MASK for c in w.text) if any(
                s < w.end and w.start < e for s, e in times) else w.text
        out.append(w if new == w.text else replace(w, text=new))
    return out


def mask_segments(segments: list[Segment], findings: list[dict[str, Any]], types: set[str]
                  ) -> list[Segment]:
    """New Segment objects whose text and word texts have the characters of findings of
    these types replaced by ＊ (same length, so times and offsets stay valid); the other
    segments are returned as they are. Separators inside numbers stay (＊＊＊＊、＊＊＊＊)."""
    ranges: dict[int, list[tuple[int, int, bool]]] = {}
    for f in findings:
        if f.get("type") not in types:
            continue
        for part in f.get("chars") or []:
            try:
                idx, a, b = int(part[0]), int(part[1]), int(part[2])
            except (TypeError, ValueError, IndexError):
                continue
            if 0 <= idx < len(segments):
                ranges.setdefault(idx, []).append((a, b, f["type"] in _NUMERIC))
    out: list[Segment] = []
    for idx, seg in enumerate(segments):
        masked = _masked_text(seg.text, ranges[idx]) if idx in ranges else seg.text
        if masked == seg.text:
            out.append(seg)
            continue
        out.append(replace(seg, text=masked, words=_masked_words(seg, masked)))
    return out
