"""What a run of spoken digits is: card number (Luhn), phone, My Number (check digit),
bank account, card expiry or security code — from its structure and the nearest
preceding context word."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rokuon.engine.analysis.pii.common import (
    _NUMBER_CTX,
    _PRIORITY,
    _RUN_MAX_DIGITS,
    _Config,
    _Context,
    _Item,
)
from rokuon.engine.analysis.pii.spoken import _Chunk, _links, _runs_of, _Window, _windows
from rokuon.engine.types import Segment


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

