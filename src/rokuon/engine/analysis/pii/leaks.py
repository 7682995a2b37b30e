"""A second, independent check for card data in text that is about to be stored (or
already is): it shares no code with the detector, so one bug cannot blind both.

Deliberately simple and suspicious. Digits are read from ASCII, full-width, kanji
(〇一二…九) and kana readings (イチニサン, いちにさん). Two kinds of leak:

- ``luhn``: 13–19 digits in a row (separators allowed) that pass the Luhn check,
  unless an order / inquiry / member number was named just before;
- ``after_card_context``: two digits or more after a card word (カード番号, 有効期限,
  セキュリティコード, 裏の3桁, CVV …) in the same line or in the next two lines within
  30 s, until another topic (電話番号, 住所, 注文番号 …) comes up.

It reports the line and the kind, never the value; ``leak_spans`` also gives the
character spans (to mask them) and the times."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class _Line(Protocol):
    start: float
    end: float
    text: str


_KANJI = dict(zip("〇○零一二三四五六七八九", "000123456789", strict=True))
_KANA_READINGS = ("ゼロ", "レイ", "マル", "イチ", "ニー", "ニ", "サン", "ヨン", "ヨ", "ゴー", "ゴ",
                  "ロク", "ナナ", "シチ", "ハチ", "キュウ", "キュー", "ク", "シ")
_KANA_DIGIT = {"ゼロ": "0", "レイ": "0", "マル": "0", "イチ": "1", "ニー": "2", "ニ": "2",
               "サン": "3", "ヨン": "4", "ヨ": "4", "ゴー": "5", "ゴ": "5", "ロク": "6",
               "ナナ": "7", "シチ": "7", "ハチ": "8", "キュウ": "9", "キュー": "9", "ク": "9",
               "シ": "4"}
_KANA_RUN = re.compile("(?:" + "|".join(_KANA_READINGS) + "|ー)+")
_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMERAL = re.compile("[〇○零一二三四五六七八九十百千]+")
_SEPARATORS = re.compile(r"[\s、,.\-‐−・の/ー]{0,3}")
CARD_WORDS = ("カード番号", "カードの番号", "クレジットカード", "クレジット", "クレカ", "カード",
              "有効期限", "有効期間", "セキュリティコード", "セキュリティーコード",
              "セキュリティ番号", "裏面の", "裏の3桁", "裏の三桁", "確認コード", "暗証番号",
              "cvv", "cvc", "card number", "security code", "expiry", "expiration")
OTHER_WORDS = ("電話番号", "携帯", "連絡先", "住所", "郵便番号", "注文番号", "問い合わせ番号",
               "受付番号", "お客様番号", "顧客番号", "会員番号", "伝票番号", "追跡番号", "契約番号",
               "予約番号", "請求番号", "口座番号", "マイナンバー", "生年月日", "ポイント",
               "order number", "phone number")
_NOT_CARD_NUMBER = ("注文番号", "問い合わせ番号", "受付番号", "お客様番号", "顧客番号", "会員番号",
                    "伝票番号", "追跡番号", "契約番号", "予約番号", "請求番号", "管理番号",
                    "order number", "tracking number", "reference number")
_FOLLOW_LINES = 2
_FOLLOW_S = 30.0


@dataclass(frozen=True)
class Leak:
    segment: int
    kind: str  # luhn | after_card_context
    chars: tuple[int, int]  # in the line's text — never stored with the value
    start: float
    end: float


def _fold(text: str) -> str:
    """Same length as ``text``: NFKC per character where it stays one character, kanji
    digits as ASCII, hiragana as katakana, lower case."""
    out = []
    for c in text:
        if c in _KANJI:
            out.append(_KANJI[c])
            continue
        if "\u3041" <= c <= "\u3096":
            c = chr(ord(c) + 0x60)
        n = unicodedata.normalize("NFKC", c).lower()
        out.append(n if len(n) == 1 else c)
    return "".join(out)


def _kanji_numbers(text: str) -> list[tuple[int, int, str]]:
    """百二十三 → 1 2 3 (each digit given the whole numeral's span); a lone 十/百/千 is
    no number."""
    out: list[tuple[int, int, str]] = []
    for m in _KANJI_NUMERAL.finditer(text):
        run = m.group()
        if not any(c in _UNITS for c in run) or all(c in _UNITS for c in run):
            continue
        total = num = 0
        for c in run:
            if c in _UNITS:
                total += (num or 1) * _UNITS[c]
                num = 0
            else:
                num = num * 10 + int(_KANJI[c])
        out += [(m.start(), m.end(), d) for d in str(total + num)]
    return out


def digits_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digit) for every digit the text says (kana readings only in runs that
    read as two digits or more, three in hiragana)."""
    folded = _fold(text)
    numerals = _kanji_numbers(text)
    inside = {i for a, b, _ in numerals for i in range(a, b)}
    out = [(i, i + 1, c) for i, c in enumerate(folded)
           if c.isascii() and c.isdigit() and i not in inside]
    out += numerals
    for m in _KANA_RUN.finditer(folded):
        run, pos, found = m.group(), m.start(), []
        i = 0
        while i < len(run):
            for r in _KANA_READINGS:
                if run.startswith(r, i):
                    found.append((pos + i, pos + i + len(r), _KANA_DIGIT[r]))
                    i += len(r)
                    break
            else:
                i += 1
        hiragana = any("\u3041" <= c <= "\u3096" for c in text[m.start(): m.end()])
        if len(found) >= (3 if hiragana else 2):
            out += found
    return sorted(out)


def _groups(text: str, digits: list[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    """Digits said together (only separators between them)."""
    out: list[list[tuple[int, int, str]]] = []
    for d in digits:
        if out and _SEPARATORS.fullmatch(text[out[-1][-1][1]: d[0]]):
            out[-1].append(d)
        else:
            out.append([d])
    return out


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _luhn_runs(text: str, digits: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for g in _groups(text, digits):
        s = "".join(d for _, _, d in g)
        hit = next(((a, n) for n in range(19, 12, -1) for a in range(len(s) - n + 1)
                    if s[a] != "0" and luhn(s[a: a + n])), None)
        if hit is not None:
            a, n = hit
            out.append((g[a][0], g[a + n - 1][1]))
    return out


def _last(words: Sequence[str], text: str) -> int:
    """The end of the last occurrence of any of ``words`` in ``text`` (-1: none)."""
    ends = [text.rfind(w) + len(w) for w in words if w in text]
    return max(ends, default=-1)


def leak_spans(lines: Sequence[_Line], cfg: dict[str, Any] | None = None) -> list[Leak]:
    """Every place card data could be showing in these lines (see the module doc)."""
    from rokuon.engine.analysis.spans import time_span
    from rokuon.engine.types import Segment

    card_words, other_words = _words(cfg)
    leaks: list[Leak] = []
    follow: tuple[int, float] | None = None  # (lines left, until) after a card word
    other: tuple[int, float] | None = None  # … after an order / inquiry number word
    for idx, line in enumerate(lines):
        text = line.text or ""
        folded = _fold(text)
        digits = digits_in(text)
        seg = line if isinstance(line, Segment) else Segment(
            "?", float(line.start), float(line.end), text)
        spans: list[tuple[str, int, int]] = []
        before_other = _last(_NOT_CARD_NUMBER, folded)
        card_end, other_end = _last(card_words, folded), _last(other_words, folded)
        asked = other is not None and other[0] > 0 and line.start <= other[1]
        for a, b in _luhn_runs(text, digits):
            named = 0 <= before_other <= a and a - before_other <= 40
            if not named and not (asked and (card_end < 0 or card_end > a)):
                spans.append(("luhn", a, b))
        if before_other >= 0 and before_other >= card_end:
            other = (_FOLLOW_LINES, line.end + _FOLLOW_S)
        elif card_end >= 0:
            other = None
        elif other is not None:
            other = (other[0] - 1, other[1])
        from_char = None
        if card_end >= 0 and card_end > other_end:
            from_char = card_end
            follow = (_FOLLOW_LINES, line.end + _FOLLOW_S)
        elif other_end >= 0:
            follow = None
        elif follow is not None and follow[0] > 0 and line.start <= follow[1]:
            from_char = 0
            follow = (follow[0] - 1, follow[1])
        else:
            follow = None
        if from_char is not None:
            after = [d for d in digits if d[0] >= from_char and not folded.startswith(
                ("桁", "ケタ"), d[1])]
            if len(after) >= 2:
                spans.append(("after_card_context", after[0][0], after[-1][1]))
        for kind, a, b in spans:
            t0, t1 = time_span(seg, a, b)
            leaks.append(Leak(idx, kind, (a, b), t0, t1))
    return leaks


def _words(cfg: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Card words and other-topic words: this module's own lists plus the configured
    context words (folded like the text)."""
    ctx = ((cfg or {}).get("pii") or {}).get("context") or {}
    card = list(CARD_WORDS)
    other = list(OTHER_WORDS)
    if isinstance(ctx, dict):
        for cat, words in ctx.items():
            target = card if str(cat).startswith("card") else other
            target += [str(w) for w in words or [] if isinstance(w, str) and w.strip()]
    return (tuple({_fold(w) for w in card}), tuple({_fold(w) for w in other}))


def scan(lines: Sequence[_Line], cfg: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The leaks as {"segment", "kind"} — no characters, no value."""
    return [{"segment": lk.segment, "kind": lk.kind} for lk in leak_spans(lines, cfg)]
