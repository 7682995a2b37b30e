"""Masking findings in segments: characters replaced by ＊ (same length, so offsets and
times stay valid), in the text and in the word texts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rokuon.engine.analysis.pii.common import _MASK_KEEP, _NUMERIC, MASK
from rokuon.engine.analysis.spans import time_span
from rokuon.engine.types import Segment, Word

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

