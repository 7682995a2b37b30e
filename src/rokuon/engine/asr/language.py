"""A second look at low-confidence stretches: another language, or unintelligible.

Also at voiced stretches Whisper wrote nothing for: forced to Japanese, it often
skips an English sentence entirely; when language identification says such a stretch
is clearly another language, it is transcribed in that language and marked.

With the language forced to Japanese, Whisper writes an English sentence as invented
Japanese. Where a segment's confidence is low, its audio is run through Whisper's
language identification: when another language clearly wins, the stretch is decoded
again in that language and marked (``Segment.language = "en"``); when nothing
recognisable was said (very low confidence in every language), the stretch is marked
``"und"`` and its text replaced by :data:`UNINTELLIGIBLE` — a marker, not fiction.

The cost is one language-ID pass (one encoder window) per doubtful segment; confident
segments are never looked at again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rokuon.engine.asr.hallucination import RawSegment, RawWord
from rokuon.engine.types import ENGINE_SAMPLE_RATE

CHECK_BELOW_LOGPROB = -0.7  # segments less confident than this get the second look
OTHER_LANGUAGE_MIN_PROB = 0.6  # another language must win clearly …
MAIN_LANGUAGE_MAX_PROB = 0.25  # … and the call's language be unlikely
UNINTELLIGIBLE_LOGPROB = -1.5  # kept in no language: marked, text replaced
MIN_SECONDS = 0.8  # shorter stretches are too short to identify a language
EDGE_S = 0.2  # a segment's own edges: Whisper's times are this loose
# a word this improbable covers nothing (Whisper stretched 「です」 p=0.02 over a whole
# English sentence)
MIN_WORD_PROB = 0.15
# a recovered stretch must look like speech to Whisper itself (measured: real English
# no_speech 0.02–0.11, compression 0.7–0.9; breath at the end of a clip decoded as a
# loop of "I'm sorry": no_speech 0.67–0.71, compression 23.6)
RECOVER_MAX_NO_SPEECH = 0.5
RECOVER_MAX_COMPRESSION = 2.4
# a skipped stretch is looked at only when this long and this clearly another language
# (measured: the English sentences of call 37 were 2.0–2.5 s at 0.76–0.87; breath and
# clicks that decoded as loops were 0.8–1.0 s at 0.62–0.66)
RECOVER_MIN_SECONDS = 1.5
RECOVER_MIN_PROB = 0.7
TOKENS_PER_SECOND = 8  # a decode of a stretch stops at 8 tokens a second (+16): a loop
# costs little before the filters reject it (one ran to 448 tokens: 13 s of CPU)
UNINTELLIGIBLE = "［聞き取り不能］"
UNDETERMINED = "und"


@dataclass
class Verdict:
    segment: RawSegment
    language: str | None  # None: the call's language, kept as it was


def doubtful(seg: RawSegment) -> bool:
    return seg.avg_logprob < CHECK_BELOW_LOGPROB and seg.end - seg.start >= MIN_SECONDS


def other_language(model: Any, clip: np.ndarray, main_language: str, min_prob: float
                   ) -> str | None:
    """The language of ``clip`` when Whisper's identification clearly says it is not the
    call's language (≥ ``min_prob``, the call's own ≤ MAIN_LANGUAGE_MAX_PROB), else None."""
    lang, _, probs = model.detect_language(clip)
    p = dict(probs)
    if (lang != main_language and p.get(lang, 0.0) >= min_prob
            and p.get(main_language, 0.0) <= MAIN_LANGUAGE_MAX_PROB):
        return lang
    return None


def shifted(words: list[RawWord], offset: float) -> list[RawWord]:
    """Words of a decoded stretch with their times moved back into the channel."""
    return [RawWord(w.text, w.start + offset, w.end + offset, w.probability) for w in words]


def max_tokens(clip: np.ndarray) -> int:
    return int(len(clip) / ENGINE_SAMPLE_RATE * TOKENS_PER_SECOND) + 16


def check(model: Any, samples: np.ndarray, segments: list[RawSegment], main_language: str,
          decode: Any) -> list[Verdict]:
    """One verdict per segment. ``decode(audio, language)`` transcribes a stretch (the
    engine's own decoding options, at most :func:`max_tokens`) and returns raw segments
    with times relative to it."""
    out: list[Verdict] = []
    for seg in segments:
        if not doubtful(seg):
            out.append(Verdict(seg, None))
            continue
        a, b = int(seg.start * ENGINE_SAMPLE_RATE), int(seg.end * ENGINE_SAMPLE_RATE)
        clip = samples[a:b]
        lang = other_language(model, clip, main_language, OTHER_LANGUAGE_MIN_PROB)
        if lang is not None:
            again = decode(clip, lang)
            text = "".join(s.text for s in again).strip()
            if text:
                words = [w for s in again for w in shifted(s.words, seg.start)]
                logprob = min((s.avg_logprob for s in again), default=seg.avg_logprob)
                out.append(Verdict(replace(seg, text=text, words=words,
                                           avg_logprob=logprob), lang))
                continue
        if seg.avg_logprob < UNINTELLIGIBLE_LOGPROB:
            out.append(Verdict(replace(seg, text=UNINTELLIGIBLE, words=[]), UNDETERMINED))
            continue
        out.append(Verdict(seg, None))
    return out


def skipped(segments: list[RawSegment], speech: list[tuple[float, float]]
            ) -> list[tuple[float, float]]:
    """Parts of the voiced spans (VAD) that no word covers, at least MIN_SECONDS
    long (the VAD joins speech across pauses under 2 s, so a skipped sentence is often
    the middle of a span whose ends were transcribed)."""
    covered = sorted((x.start - EDGE_S, x.end + EDGE_S)
                     for s in segments for x in (s.words or [s])
                     if getattr(x, "probability", 1.0) >= MIN_WORD_PROB)  # a segment can span
    # a skipped sentence (Whisper writes the Japanese before and after it as one)
    out = []
    for a, b in speech:
        pos = a
        for s, e in covered:
            if e <= pos or s >= b:
                continue
            if s - pos >= MIN_SECONDS:
                out.append((pos, s))
            pos = max(pos, e)
        if b - pos >= MIN_SECONDS:
            out.append((pos, b))
    return out


def recover(model: Any, samples: np.ndarray, segments: list[RawSegment],
            speech: list[tuple[float, float]], main_language: str, decode: Any
            ) -> list[Verdict]:
    """Segments for skipped voiced stretches that are clearly another language."""
    out: list[Verdict] = []
    for a, b in skipped(segments, speech):
        if b - a < RECOVER_MIN_SECONDS:
            continue
        clip = samples[int(a * ENGINE_SAMPLE_RATE):int(b * ENGINE_SAMPLE_RATE)]
        lang = other_language(model, clip, main_language, RECOVER_MIN_PROB)
        if lang is None:
            continue
        for s in decode(clip, lang):
            text = s.text.strip()
            if not text or s.no_speech_prob > RECOVER_MAX_NO_SPEECH \
                    or s.compression_ratio > RECOVER_MAX_COMPRESSION:
                continue  # breath or noise read as 「I'm sorry, I'm sorry, …」
            words = shifted(s.words, a)
            out.append(Verdict(RawSegment(start=s.start + a, end=s.end + a, text=text,
                                          avg_logprob=s.avg_logprob,
                                          no_speech_prob=s.no_speech_prob,
                                          compression_ratio=s.compression_ratio,
                                          words=words), lang))
    return out


def without_guesses(verdicts: list[Verdict], spans: list[tuple[float, float]]
                    ) -> list[Verdict]:
    """The verdicts' segments without their improbable words inside ``spans``
    (stretches recovered in another language: what Whisper wrote there in Japanese was
    a guess); a segment left without words goes."""
    if not spans:
        return verdicts
    out = []
    for v in verdicts:
        seg = v.segment
        keep = [w for w in seg.words if w.probability >= MIN_WORD_PROB
                or not any(a <= (w.start + w.end) / 2 <= b for a, b in spans)]
        if len(keep) == len(seg.words):
            out.append(v)
        elif keep:
            out.append(Verdict(replace(seg, words=keep, start=keep[0].start, end=keep[-1].end,
                                       text="".join(w.text for w in keep).strip()), v.language))
    return out
