"""Guards against Whisper's hallucinations on silence, noise and loops.

Pure functions over raw segments (``RawSegment``) and the channel's voice
activity. Each dropped segment is reported with the reason, so nothing
disappears silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rokuon.text.normalize import normalize

# Phrases Whisper produces from silence or music because they end so many subtitled
# videos. Matched on normalised text; dropped only when the segment is nothing but
# the phrase (a real "ありがとうございました" in a call is not in this list).
PHANTOM_PHRASES: tuple[str, ...] = (
    "ご視聴ありがとうございました",
    "ご視聴ありがとうございます",
    "チャンネル登録よろしくお願いします",
    "チャンネル登録をお願いします",
    "チャンネル登録お願いします",
    "高評価よろしくお願いします",
    "次回もお楽しみに",
    "最後までご視聴いただきありがとうございます",
    "字幕は視聴者によって作成されました",
    "おやすみなさい",
    "thank you for watching",
    "thanks for watching",
    "please subscribe",
    "subtitles by the amara.org community",
)
_PHANTOMS = {normalize(p): p for p in PHANTOM_PHRASES}
_PUNCT = re.compile(r"[\s、。，．,.!?！？・…「」『』()（）]+")
_LOOP = re.compile(r"(.{2,20}?)\1{3,}")  # a unit of 2–20 characters repeated 4+ times

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MIN_VOICED_FRACTION = 0.1
MAX_COMPRESSION = 2.4


@dataclass
class RawWord:
    text: str
    start: float
    end: float
    probability: float


@dataclass
class RawSegment:
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    words: list[RawWord] = field(default_factory=list)


def _bare(text: str) -> str:
    return _PUNCT.sub("", normalize(text))


def voiced_fraction(start: float, end: float, speech: list[tuple[float, float]]) -> float:
    span = max(end - start, 1e-6)
    covered = sum(max(0.0, min(end, e) - max(start, s)) for s, e in speech)
    return min(1.0, covered / span)


def collapse_loops(text: str) -> str:
    """'はいはいはいはいはい' style loops are cut to a single unit."""
    return _LOOP.sub(r"\1", text)


def is_phantom(text: str) -> bool:
    bare = _bare(text)
    return bool(bare) and any(bare == _bare(p) for p in _PHANTOMS)


def suspicious(seg: RawSegment) -> bool:
    """Whisper's own signals that a segment may not be speech; only these are checked
    against voice activity (running a second VAD over every channel would cost ~2 %)."""
    mean_p = sum(w.probability for w in seg.words) / len(seg.words) if seg.words else 0.0
    return (seg.no_speech_prob > 0.2 or seg.avg_logprob < -0.6 or mean_p < 0.5
            or seg.compression_ratio > 2.0)


VoicedFn = Callable[[float, float], float]


def guard(segments: list[RawSegment],
          speech: list[tuple[float, float]] | VoicedFn | None
          ) -> tuple[list[RawSegment], list[dict]]:
    """Keep plausible segments; return (kept, dropped-with-reasons).

    ``speech`` is the channel's voice activity, either as spans or as a function
    (start, end) -> voiced fraction that is called for suspicious segments only."""
    if speech is None or callable(speech):
        voiced: VoicedFn | None = speech
        only_suspicious = True
    else:
        spans = speech

        def voiced(a: float, b: float) -> float:
            return voiced_fraction(a, b, spans)
        only_suspicious = False
    kept: list[RawSegment] = []
    dropped: list[dict] = []

    def drop(seg: RawSegment, reason: str) -> None:
        dropped.append({"start": round(seg.start, 2), "end": round(seg.end, 2),
                        "text": seg.text, "reason": reason})

    for seg in segments:
        text = seg.text.strip()
        if not _bare(text):
            drop(seg, "empty")
            continue
        if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB:
            drop(seg, "no_speech")
            continue
        if voiced is not None and (not only_suspicious or suspicious(seg)) \
                and voiced(seg.start, seg.end) < MIN_VOICED_FRACTION:
            drop(seg, "no_voice_activity")
            continue
        if is_phantom(text):
            drop(seg, "phantom_phrase")
            continue
        collapsed = collapse_loops(text)
        if collapsed != text:
            if seg.compression_ratio > MAX_COMPRESSION and seg.avg_logprob < LOW_LOGPROB:
                drop(seg, "repetition_loop")
                continue
            dropped.append({"start": round(seg.start, 2), "end": round(seg.end, 2),
                            "text": text, "reason": "repetition_collapsed"})
            seg.text = collapsed
        if kept and _bare(kept[-1].text) == _bare(seg.text) and len(_bare(seg.text)) > 4:
            drop(seg, "repeated_segment")
            continue
        kept.append(seg)
    return kept, dropped
