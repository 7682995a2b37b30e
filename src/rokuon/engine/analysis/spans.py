"""From character offsets in a segment's text to seconds in the recording, using the
word timestamps Whisper gave (or proportionally across the segment without them)."""

from __future__ import annotations

from rokuon.engine.types import Segment


def _char_times(seg: Segment) -> list[tuple[float, float]] | None:
    """(start, end) seconds for every character of ``seg.text``, aligned greedily to the
    characters of its words; None when the segment has no words."""
    if not seg.words:
        return None
    wchars: list[tuple[str, float, float]] = []
    for w in seg.words:
        t = w.text.strip()
        if not t:
            continue
        step = (w.end - w.start) / len(t)
        for i, c in enumerate(t):
            wchars.append((c, w.start + i * step, w.start + (i + 1) * step))
    if not wchars:
        return None
    out: list[tuple[float, float]] = []
    j = 0
    last = (wchars[0][1], wchars[0][1])
    for c in seg.text:
        k = j
        # look a few characters ahead for the same character (punctuation may differ)
        while k < len(wchars) and k < j + 4 and wchars[k][0] != c:
            k += 1
        if k < len(wchars) and wchars[k][0] == c:
            last = (wchars[k][1], wchars[k][2])
            j = k + 1
        elif j < len(wchars) and not c.isspace() and c not in "、。,.!?！？「」":
            last = (wchars[j][1], wchars[j][2])
            j += 1
        out.append(last)
    return out


def time_span(seg: Segment, start_char: int, end_char: int) -> tuple[float, float]:
    """Seconds covered by characters [start_char, end_char) of ``seg.text``."""
    n = max(1, len(seg.text))
    start_char = max(0, min(start_char, n - 1))
    end_char = max(start_char + 1, min(end_char, n))
    times = _char_times(seg)
    if times is None or len(times) != len(seg.text):
        dur = seg.end - seg.start
        return (seg.start + dur * start_char / n, seg.start + dur * end_char / n)
    s, e = times[start_char][0], times[end_char - 1][1]
    return (max(seg.start, min(s, e)), min(seg.end, max(s, e)) if seg.end > seg.start else e)
