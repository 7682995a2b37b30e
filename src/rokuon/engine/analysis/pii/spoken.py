"""Spoken-number parsing: digits in any form (ASCII, full-width, kanji 〇一二…九 and
百二十三, katakana readings ゼロキューゼロ, hiragana readings いちにさん) grouped into
chunks, linked across separators and across consecutive segments of one speaker, and
cut into windows to classify."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rokuon.engine.analysis.pii.common import (
    _ASCII_DIGITS,
    _MAX_CHUNKS_PER_SEGMENT,
    _MAX_KATAKANA_RUN,
    _MAX_READING,
    _READINGS,
    _RUN_MAX_DIGITS,
    _SEPARATORS,
    _SOFT_GAP,
    _Config,
    _Context,
    _is_katakana,
)
from rokuon.engine.types import Segment

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


_POSITIONAL = {"十": 10, "百": 100, "千": 1000}
_HIRAGANA_MIN_DIGITS = 3  # に, し, く, ご are particles and words far more often
_TOPIC_CHARS = 20  # a line between two pieces of a number this long is a new topic


def _is_hiragana(c: str) -> bool:
    return "\u3041" <= c <= "\u3096"


def _positional(run: str) -> str | None:
    """A kanji numeral with 十/百/千 (百二十三 → 123, 二十八 → 28, 千二百 → 1200) from its
    view (百2十3); None for a lone 十/百/千 (十分 is no number)."""
    if not any(c in _ASCII_DIGITS for c in run):
        return None
    total, num = 0, 0
    for c in run:
        if c in _ASCII_DIGITS:
            num = num * 10 + int(c)
        else:
            total += (num or 1) * _POSITIONAL[c]
            num = 0
    return str(total + num)


def _hiragana_digits(view: str, i: int, j: int) -> list[tuple[int, int, str]]:
    """Digit readings in a hiragana run (いちにさんです → 1 2 3), folded to katakana 1:1:
    every stretch that reads as three digits or more (the longest from each start)."""
    run = "".join(chr(ord(c) + 0x60) if _is_hiragana(c) else c for c in view[i:j])
    out: list[tuple[int, int, str]] = []
    a = 0
    while a < len(run):
        best = None
        for b in range(len(run), a, -1):
            got = _katakana_digits(run[a:b], i + a)
            if got is not None and len(got) >= _HIRAGANA_MIN_DIGITS:
                best = (b, got)
                break
        if best is None:
            a += 1
            continue
        out += best[1]
        a = best[0]
    return out


def _digit_tokens(view: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, digits) for every spoken or written digit of the text (a kanji
    numeral with 十/百/千 is one token with its value's digits)."""
    i, n = 0, len(view)
    while i < n:
        c = view[i]
        if c in _ASCII_DIGITS or c in _POSITIONAL:
            j = i
            while j < n and (view[j] in _ASCII_DIGITS or view[j] in _POSITIONAL):
                j += 1
            value = _positional(view[i:j]) if any(
                view[k] in _POSITIONAL for k in range(i, j)) else None
            if value is not None:
                yield i, j, value
            else:
                for k in range(i, j):
                    if view[k] in _ASCII_DIGITS:
                        yield k, k + 1, view[k]
            i = j
        elif _is_katakana(c):
            j = i
            while j < n and _is_katakana(view[j]):
                j += 1
            yield from _katakana_digits(view[i:j], i) or ()
            i = j
        elif _is_hiragana(c):
            j = i
            while j < n and (_is_hiragana(view[j]) or view[j] == "ー"):
                j += 1
            if j - i <= _MAX_KATAKANA_RUN:
                yield from _hiragana_digits(view, i, j)
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
    (the agent asking for the expiry date) nor a longer line (the agent moving on:
    「ありがとうございます。お支払いが完了しました…」) came in between."""
    out: list[str | None] = []
    for a, b in zip(chunks, chunks[1:], strict=False):
        if a.seg == b.seg:
            out.append(_gap_kind(views[a.seg], a.end, b.start, ctx))
            continue
        close = segments[b.seg].start - segments[a.seg].end <= conf.join_window_s
        short = _soft(views[a.seg][a.end:]) <= 6 and _soft(views[b.seg][:b.start]) <= 6
        same = ctx.nearest(b.seg, b.start) in (None, ctx.nearest(a.seg, a.start))
        quiet = all(_soft(views[k]) <= _TOPIC_CHARS for k in range(a.seg + 1, b.seg))
        out.append("cross" if close and short and same and quiet else None)
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

