"""A second listen to the customer's reply where the agent raised a subject.

The domain vocabulary is given to Whisper on the agent's channel only, because on the
customer's free speech it costs accuracy (docs/evaluation.md). But the customer's words
that matter most are replies: after 「通話を録音させていただきます」 the answer
「録音はやめてください」 is what consent records rest on, and Whisper base writes it
「6本はやめてください」 — a real word, so no reading tolerance can bring it back.

So, on a stereo call: where the agent's text says one of the *anchor* terms (録音,
記録 — by text or by reading), the customer's reply — their first ``REPLY_TURNS``
segments that start within ``REPLY_WINDOW_S`` after it — is decoded again, all such
replies together in one window, with the reply vocabulary as hotwords; but only a reply
that Whisper was unsure of (mean word probability below ``DOUBT``): a confident
「はい、かまいません」 is not listened to twice (the extra decode cost ≈ 1.5 s of CPU
on a 68 s call). A segment takes the new words only when they say a reply term that
the first decode did not *and sound like what the first decode wrote* (weighted
mora edit distance of the two readings at most ``MAX_SOUND_CHANGE`` of their length):
the second decode may spell the same sounds differently (6本 → 録音, ロコーン → 録音),
never put other words in (Whisper biased by a prompt of refusals will write
「記録に残さないでください」 over 「会いたから…」; such a new text sounds nothing like
the first one and is refused). Words too improbable (``MIN_PROBABILITY``) or an echo of
the prompt (half again as long) are refused too. Everything else keeps its first
decode.

Pure: the engine hands in a decode function; this module picks clips and decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import fmean

import numpy as np

from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment, Word
from rokuon.text.normalize import normalize

REPLY_WINDOW_S = 15.0  # the customer's segments starting this soon after the anchor
MAX_CLIPS_S = 25.0  # at most this much reply audio per call (one Whisper window)
REPLY_TURNS = 2  # the customer's first segments after the anchor: the answer
DOUBT = 0.75  # a reply decoded with at least this mean word probability is kept as is
MARGIN_S = 0.15  # audio kept around a segment when it is cut out
MAX_SOUND_CHANGE = 0.3  # mora edit distance / morae: a respelling, not new words
MIN_PROBABILITY = 0.35  # mean word probability of the new words
MAX_GROWTH = 1.5  # the new text at most this many times as long (+ a few characters)


@dataclass(frozen=True)
class ReplyLook:
    anchors: tuple[str, ...]  # agent terms that open a window: 録音, 記録
    terms: tuple[str, ...]  # reply terms the new decode must bring: 録音, 記録, やめて…
    hotwords: str  # what Whisper is biased with for the replies


Clip = tuple[np.ndarray, float]  # samples, offset in seconds
DecodeClips = Callable[[list[Clip], str], list[list[Word]]]


def _says(text: str, term: str) -> bool:
    from rokuon.text import readings

    return normalize(term) in normalize(text) or bool(readings.find(text, term))


def windows(segments: list[Segment], anchors: tuple[str, ...], agent: str = "agent"
            ) -> list[tuple[float, float]]:
    """[start, end] after each agent segment that says an anchor term."""
    return [(s.start, s.end + REPLY_WINDOW_S) for s in segments
            if s.speaker == agent and any(_says(s.text, a) for a in anchors)]


def candidates(segments: list[Segment], spans: list[tuple[float, float]],
               customer: str = "customer") -> list[int]:
    """Indices of the customer's replies worth a second listen: of the first
    REPLY_TURNS customer segments starting inside each window, those with words that
    Whisper was unsure of; at most MAX_CLIPS_S of audio in all."""
    out: list[int] = []
    total = 0.0
    turns = [0] * len(spans)
    for i, s in enumerate(segments):
        if s.speaker != customer:
            continue
        inside = [k for k, (a, b) in enumerate(spans) if a <= s.start <= b]
        if not inside:
            continue
        first = any(turns[k] < REPLY_TURNS for k in inside)
        for k in inside:
            turns[k] += 1
        if not first or not s.words or s.language not in (None, "ja"):
            continue
        if fmean(w.probability for w in s.words) >= DOUBT:
            continue
        length = s.end - s.start + 2 * MARGIN_S
        if total + length > MAX_CLIPS_S:
            break
        out.append(i)
        total += length
    return out


def sound_change(old: str, new: str) -> float:
    """How different two texts sound: weighted mora edit distance of their readings
    over the longer one's morae (0: the same sounds, 1: nothing alike)."""
    from rokuon.text.readings import mora_distance, phrase_morae

    a, b = list(phrase_morae(old)), list(phrase_morae(new))
    if not a or not b:
        return 1.0
    return mora_distance(a, b) / max(len(a), len(b))


def better(old: Segment, new_words: list[Word], look: ReplyLook) -> bool:
    """Whether the second decode is to be kept for this segment."""
    if not new_words:
        return False
    new_text = "".join(w.text for w in new_words)
    if len(new_text) > MAX_GROWTH * len(old.text) + 6:
        return False
    brought = [t for t in look.terms if normalize(t) in normalize(new_text)
               and normalize(t) not in normalize(old.text)]
    if not brought or fmean(w.probability for w in new_words) < MIN_PROBABILITY:
        return False
    return sound_change(old.text, new_text) <= MAX_SOUND_CHANGE


def listen_again(segments: list[Segment], samples: dict[str, np.ndarray], look: ReplyLook,
                 decode: DecodeClips) -> tuple[list[Segment], int]:
    """``segments`` with the customer's replies decoded again where it helps (see the
    module); ``samples``: the channel of each role. Returns the segments and how many
    replies took the second decode."""
    cust = samples.get("customer")
    if cust is None:
        return segments, 0
    picked = candidates(segments, windows(segments, look.anchors))
    if not picked:
        return segments, 0
    clips: list[Clip] = []
    for i in picked:
        s = segments[i]
        a = max(0.0, s.start - MARGIN_S)
        b = min(len(cust) / ENGINE_SAMPLE_RATE, s.end + MARGIN_S)
        clips.append((cust[int(a * ENGINE_SAMPLE_RATE):int(b * ENGINE_SAMPLE_RATE)], a))
    heard = decode(clips, look.hotwords)
    out = list(segments)
    n = 0
    for i, words in zip(picked, heard, strict=True):
        if better(segments[i], words, look):
            from rokuon.engine.asr.words import join_words, word_confidence

            old = segments[i]
            out[i] = Segment(speaker=old.speaker, start=words[0].start, end=words[-1].end,
                             text=join_words(words), words=words,
                             confidence=word_confidence(words), channel=old.channel,
                             language=old.language)
            n += 1
    return out, n
