"""Transcript highlighting: split a segment's text into pieces by character ranges
(keyword hits, filler hits, PII) so the template can wrap each piece in a span.

Pure functions over plain data. Offsets come from stored analysis payloads, so they
are treated as untrusted: non-integers, negative, reversed or out-of-range values are
clamped or dropped, never raised on. The text itself is returned as-is and left to
Jinja's autoescaping; nothing here produces markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Span = tuple[int, int, str]
Piece = tuple[str, str | None]

# classes a highlight may carry, in the order they are listed when ranges overlap
CLASS_ORDER = ("pii", "kw-ng", "kw-good", "kw", "filler")
_CLASS_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def _offset(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int):
        return None
    return v


def _rank(cls: str) -> tuple[int, str]:
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)


def highlight(text: str, spans: Iterable[Any]) -> list[Piece]:
    """``text`` split into consecutive (piece, css class or None) covering all of it.

    ``spans`` are (start_char, end_char, css_class). Overlapping ranges are split at
    every boundary; a piece covered by several ranges gets all their classes
    (space-separated, in CLASS_ORDER). Invalid spans (bad types, empty after clamping
    to the text, a class that is not a plain CSS identifier) are ignored.
    """
    text = text if isinstance(text, str) else ("" if text is None else str(text))
    n = len(text)
    good: list[Span] = []
    for sp in spans or ():
        if not isinstance(sp, (tuple, list)) or len(sp) != 3:
            continue
        a, b, cls = _offset(sp[0]), _offset(sp[1]), sp[2]
        if a is None or b is None or not isinstance(cls, str) or not _CLASS_RE.match(cls):
            continue
        a, b = max(0, min(a, n)), max(0, min(b, n))
        if a < b:
            good.append((a, b, cls))
    if not good:
        return [(text, None)] if text else []
    bounds = sorted({0, n, *(a for a, _, _ in good), *(b for _, b, _ in good)})
    pieces: list[Piece] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        classes = sorted({c for a, b, c in good if a <= lo and hi <= b}, key=_rank)
        cls = " ".join(classes) or None
        if pieces and pieces[-1][1] == cls:  # merge neighbours with the same classes
            pieces[-1] = (pieces[-1][0] + text[lo:hi], cls)
        else:
            pieces.append((text[lo:hi], cls))
    return pieces


def _chars(v: Any) -> tuple[int, int] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        a, b = _offset(v[0]), _offset(v[1])
        if a is not None and b is not None:
            return a, b
    return None


def analysis_spans(analysis: Mapping[str, Any] | None) -> dict[int, list[Span]]:
    """Highlight ranges per segment index from the call document's ``analysis``:
    keyword hits (kw-ng / kw-good / kw for other lists), filler hits and PII ranges.
    Missing, failed ({"error": …}) or malformed payloads contribute nothing."""
    out: dict[int, list[Span]] = {}
    if not isinstance(analysis, Mapping):
        return out

    def add(seg: Any, chars: Any, cls: str) -> None:
        idx, rng = _offset(seg), _chars(chars)
        if idx is not None and rng is not None:
            out.setdefault(idx, []).append((rng[0], rng[1], cls))

    kws = analysis.get("keywords")
    if isinstance(kws, list):
        for h in kws:
            if isinstance(h, Mapping):
                lst = h.get("list")
                cls = {"ng": "kw-ng", "good": "kw-good"}.get(lst if isinstance(lst, str)
                                                               else "", "kw")
                add(h.get("segment"), h.get("chars"), cls)
    fillers = analysis.get("fillers")
    if isinstance(fillers, Mapping) and "error" not in fillers:
        for party in fillers.values():
            hits = party.get("hits") if isinstance(party, Mapping) else None
            for h in hits if isinstance(hits, list) else ():
                if isinstance(h, Mapping):
                    add(h.get("segment"), h.get("chars"), "filler")
    pii = analysis.get("pii")
    if isinstance(pii, list):
        for f in pii:
            if not isinstance(f, Mapping):
                continue
            chars = f.get("chars")
            if _chars(chars) is not None:  # a single [a, b] range in f["segment"]
                add(f.get("segment"), chars, "pii")
            elif isinstance(chars, list):  # [[segment, a, b], …]
                for c in chars:
                    if isinstance(c, (list, tuple)) and len(c) == 3:
                        add(c[0], c[1:], "pii")
    return out


def transcript_pieces(segments: Sequence[Mapping[str, Any]],
                      analysis: Mapping[str, Any] | None
                      ) -> list[list[Piece]]:
    """One list of pieces per segment, in segment order."""
    spans = analysis_spans(analysis)
    return [highlight(str(seg.get("text") or ""), spans.get(i, ()))
            for i, seg in enumerate(segments)]
