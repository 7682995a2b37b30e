"""Word pieces from Whisper back into text and segments."""

from __future__ import annotations

from bisect import bisect_right
from statistics import fmean

from rokuon.engine.types import Segment, Word

Span = tuple[float, float]


def join_words(words: list[Word]) -> str:
    """Concatenate word pieces: Japanese without spaces, Latin words with one."""
    out = ""
    for w in words:
        piece = w.text.strip()
        if out and out[-1].isascii() and out[-1].isalnum() and piece[:1].isascii() \
                and piece[:1].isalnum():
            out += " "
        out += piece
    return out


def word_confidence(words: list[Word]) -> float:
    return fmean(w.probability for w in words) if words else 0.0


def segment_of(words: list[Word], speaker: str, channel: int | None) -> Segment:
    """A segment spanning ``words`` (at least one), text joined, mean word probability."""
    return Segment(speaker=speaker, start=words[0].start, end=words[-1].end,
                   text=join_words(words), words=words, confidence=word_confidence(words),
                   channel=channel)


def split_on_pauses(words: list[Word], max_gap_s: float) -> list[list[Word]]:
    """Groups of consecutive words, a new group after every pause longer than max_gap_s."""
    groups: list[list[Word]] = []
    for w in words:
        if groups and w.start - groups[-1][-1].end <= max_gap_s:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _overlapping(activity: list[Span], start: float, end: float) -> list[Span]:
    """The spans of ``activity`` (sorted, not overlapping) that overlap [start, end]."""
    out: list[Span] = []
    i = bisect_right(activity, start, key=lambda sp: sp[1])
    while i < len(activity) and activity[i][0] < end:
        out.append(activity[i])
        i += 1
    return out


def fit_word(word: Word, activity: list[Span], *, inner_gap_s: float = 0.3,
             max_shift_s: float = 1.0, snap_s: float = 0.2) -> Word:
    """``word`` with its times moved onto the voice activity of its own channel.

    Whisper stretches a word over the silence after it (and into the other party's
    turn on the other channel) and starts words early inside the recogniser's padding.
    The word keeps the voiced part it covers; if that part has a pause of
    ``inner_gap_s`` or more, only the piece it covers most. A word in complete silence
    is moved to the nearest voiced edge within ``max_shift_s`` (at most ``snap_s``
    long), or left alone when there is none (the activity may have missed quiet speech).
    """
    hit = _overlapping(activity, word.start, word.end)
    if hit:
        pieces: list[Span] = []
        for s, e in hit:
            s, e = max(s, word.start), min(e, word.end)
            if pieces and s - pieces[-1][1] < inner_gap_s:
                pieces[-1] = (pieces[-1][0], e)
            else:
                pieces.append((s, e))
        s, e = max(pieces, key=lambda p: p[1] - p[0])
        return Word(word.text, s, e, word.probability)
    best: tuple[float, Span] | None = None
    i = bisect_right(activity, word.start, key=lambda sp: sp[1])
    for s, e in activity[max(0, i - 1):i + 1]:  # the voiced spans on either side
        for d, piece in ((word.start - e, (max(s, e - snap_s), e)),
                         (s - word.end, (s, min(e, s + snap_s)))):
            if 0 <= d <= max_shift_s and (best is None or d < best[0]):
                best = (d, piece)
    if best is None:
        return word
    return Word(word.text, best[1][0], best[1][1], word.probability)


def fit_words(words: list[Word], activity: list[Span] | None) -> list[Word]:
    """Every word fitted to ``activity`` (see ``fit_word``), kept in time order; no
    activity (None) leaves the words as they are, an empty one too (nothing voiced:
    the hallucination guard decides about such words, not the timing)."""
    if not activity:
        return list(words)
    spans: list[Span] = []
    for s, e in sorted(activity):  # sorted and merged, as the bisection needs
        if spans and s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], e))
        else:
            spans.append((s, e))
    out = [fit_word(w, spans) for w in words]
    for i in range(1, len(out)):  # snapping must not reorder words
        if out[i].start < out[i - 1].start:
            out[i] = Word(out[i].text, out[i - 1].start, max(out[i].end, out[i - 1].start),
                          out[i].probability)
    return out


def fit_span(start: float, end: float, activity: list[Span] | None) -> Span:
    """A segment without word times shrunk to the activity it covers (unchanged when it
    covers none)."""
    hit = _overlapping(sorted(activity or []), start, end)
    if not hit:
        return start, end
    return max(start, hit[0][0]), min(end, hit[-1][1])


def cut_segments(words: list[Word], speaker: str, channel: int | None,
                 activity: list[Span] | None, max_gap_s: float) -> list[Segment]:
    """Segments of one party from its words: the words fitted to the party's own voice
    activity, then a new segment after every pause longer than ``max_gap_s``. Segment
    edges are word edges, so a segment ends where the party stops speaking instead of
    running on into the other party's turn."""
    return [segment_of(g, speaker, channel)
            for g in split_on_pauses(fit_words(words, activity), max_gap_s)]


def refit(segments: list[Segment], activity: dict[str, list[Span]] | list[Span] | None,
          max_gap_s: float) -> list[Segment]:
    """Stored segments cut again on voice activity (per speaker role, or one list for all)
    — for transcripts made before their words were fitted. Idempotent."""
    out: list[Segment] = []
    for seg in segments:
        spans = activity.get(seg.speaker) if isinstance(activity, dict) else activity
        if not seg.words:
            s, e = fit_span(seg.start, seg.end, spans)
            out.append(Segment(speaker=seg.speaker, start=s, end=e, text=seg.text,
                               confidence=seg.confidence, channel=seg.channel))
            continue
        out += cut_segments(seg.words, seg.speaker, seg.channel, spans, max_gap_s)
    return sorted(out, key=lambda s: (s.start, s.end))
