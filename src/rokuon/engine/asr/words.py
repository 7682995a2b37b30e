"""Word pieces from Whisper back into text and segments."""

from __future__ import annotations

from statistics import fmean

from rokuon.engine.types import Segment, Word


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
