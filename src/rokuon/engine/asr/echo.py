"""Whisper repeating its prompt: hotwords or the initial prompt written into the text.

On a short or unclear stretch Whisper may continue the text it was conditioned on —
the hotword list (「…したスカイモバイル、ミドリ通信、録音、解約する」) or the
verbatim prompt — instead of transcribing. No caller reads out that list: a run of
``min_run`` or more prompt terms in a row (separated by nothing or punctuation) is cut
from the segment, with the words in it; a segment that was nothing but the echo goes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rokuon.engine.asr.hallucination import RawSegment

_SEP = r"[、,，。.．・\s]*"
SPLIT = re.compile(r"[、,，。.．・！？!?\s]+")


def terms_of(text: str | None) -> tuple[str, ...]:
    """The terms of a hotword list or prompt (split at punctuation)."""
    return tuple(t for t in SPLIT.split(text or "") if t)


@lru_cache(maxsize=64)
def _pattern(terms: tuple[str, ...], min_run: int, ordered: bool) -> re.Pattern[str] | None:
    """Any ``min_run`` terms in a row (a hotword list: its terms are names nobody reads
    out in a row), or, ``ordered``, ``min_run`` consecutive terms in the prompt's own
    order (a prompt of fillers: 「えーと、あのー、えー」 alone is speech)."""
    if not terms or min_run < 2:
        return None
    if ordered:
        runs = {_SEP.join(re.escape(t) for t in terms[i:i + min_run])
                for i in range(len(terms) - min_run + 1)}
        return re.compile("|".join(sorted(runs, key=len, reverse=True))) if runs else None
    alt = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    return re.compile(f"(?:{alt})(?:{_SEP}(?:{alt})){{{min_run - 1},}}")


def echo_start(text: str, terms: tuple[str, ...], min_run: int,
               ordered: bool = False) -> int | None:
    pat = _pattern(terms, min_run, ordered)
    m = pat.search(text) if pat else None
    return m.start() if m else None


def cut_echo(seg: RawSegment, terms: tuple[str, ...], min_run: int,
             ordered: bool = False) -> str | None:
    """Cut the echo out of ``seg`` (in place). Returns None (nothing found), "cut" (the
    segment keeps what came before the echo) or "all" (nothing else was said)."""
    if not seg.words:
        at = echo_start(seg.text, terms, min_run, ordered)
        if at is None:
            return None
        seg.text = seg.text[:at].strip()
        return "cut" if seg.text else "all"
    joined = "".join(w.text for w in seg.words)
    at = echo_start(joined, terms, min_run, ordered)
    if at is None:
        return None
    kept, pos = [], 0
    for w in seg.words:
        lead = len(w.text) - len(w.text.lstrip())
        if pos + lead < at:
            kept.append(w)
        pos += len(w.text)
    if not kept:
        return "all"
    seg.words = kept
    seg.text = "".join(w.text for w in kept).strip()
    seg.start, seg.end = kept[0].start, kept[-1].end
    return "cut"
