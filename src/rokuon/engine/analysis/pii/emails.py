"""E-mail addresses, written and spoken (yamada ドット hanako アットマーク example ドット jp)."""

from __future__ import annotations

import re

from rokuon.engine.analysis.pii.common import _Item
from rokuon.engine.types import Segment
from rokuon.text.normalize import normalize

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

