"""Guards against Whisper's hallucinations on silence, noise and loops.

Pure functions over raw Whisper segments (``RawSegment``) of one channel and the
channel's voice activity (speech spans in seconds). Every dropped or altered
segment is reported with a reason, so nothing disappears silently:

========================  ===============================================================
reason                    rule
========================  ===============================================================
empty                     no text left once punctuation and spaces are removed
no_speech                 no_speech_prob > 0.6 and avg_logprob < -1.0
no_voice_activity         < 10 % of the segment's span is voiced (Silero VAD)
phantom_phrase            the whole segment is a known phantom (PHANTOM_PHRASES/PATTERNS)
phantom_outro             an outro (OUTRO_PHRASES) alone, isolated and low-confidence
repetition_loop           a unit repeated 4+ times, high compression ratio, low confidence
repetition_collapsed      a repeated unit was cut to one occurrence (segment kept)
repeated_segment          same text as the previous segment, right after it, doubtful
prompt_echo               a run of hotwords / prompt phrases in a row: Whisper repeating its
                          prompt, cut out (the segment goes when nothing else was said)
========================  ===============================================================
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

# Phrases Whisper produces from silence or music because they end so many subtitled
# videos. Dropped only when a segment is nothing but the phrase (normalised).
PHANTOM_PHRASES: tuple[str, ...] = (
    "ご視聴ありがとうございました",
    "ご視聴ありがとうございます",
    "ご視聴いただきありがとうございました",
    "最後までご視聴いただきありがとうございます",
    "最後までご視聴いただきありがとうございました",
    "チャンネル登録よろしくお願いします",
    "チャンネル登録をお願いします",
    "チャンネル登録お願いします",
    "チャンネル登録よろしくね",
    "高評価よろしくお願いします",
    "高評価とチャンネル登録よろしくお願いします",
    "次回もお楽しみに",
    "それではまた次回の動画でお会いしましょう",
    "字幕",
    "字幕は視聴者によって作成されました",
    "thank you for watching",
    "thanks for watching",
    "thank you for watching and see you next time",
    "please subscribe",
    "please like and subscribe",
    "subtitles by the amara.org community",
)
# Regular expressions (searched in the NFKC text) for whole-segment phantoms: subtitle
# credits, and sound annotations in brackets or music notes that no caller says.
PHANTOM_PATTERNS: tuple[str, ...] = (
    r"^\W*字幕\s*[:：]",
    r"字幕(作成|制作|提供|協力|翻訳|担当)",
    r"^\s*[(\[（［【〔<＜《][^()\[\]（）［］【】〔〕]*[)\]）］】〕>＞》]\s*$",
    r"^[\s♪♫♬〜~・….]+$",
)
# Short outros that are also plausible real speech: dropped only when the segment is
# just the phrase, isolated from other speech on the channel and low-confidence.
OUTRO_PHRASES: tuple[str, ...] = (
    "おやすみなさい",
    "おやすみ",
    "お疲れ様でした",
    "お疲れさまでした",
    "バイバイ",
    "またね",
    "また来週",
    "では、また",
    "thank you",
    "thank you very much",
    "thanks",
    "bye",
    "bye bye",
    "you",
)

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MIN_VOICED_FRACTION = 0.1
MAX_COMPRESSION = 2.4
OUTRO_ISOLATION_S = 3.0
OUTRO_MAX_CONFIDENCE = 0.5
REPEAT_MAX_GAP_S = 2.0
REPEAT_MIN_CHARS = 5

_PUNCT = re.compile(r"[\W_]+")
_LOOP = re.compile(r"(.{2,30}?)\1{3,}", re.DOTALL)  # a 2–30 character unit, 4+ times


def bare(text: str) -> str:
    """NFKC, case-folded, without spaces and punctuation: what "the same text" means."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())


_PHANTOMS = frozenset(bare(p) for p in PHANTOM_PHRASES)
_PHANTOM_RES = tuple(re.compile(p) for p in PHANTOM_PATTERNS)
_OUTROS = frozenset(bare(p) for p in OUTRO_PHRASES)


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

    @property
    def confidence(self) -> float:
        """Mean word probability, or exp(avg_logprob) without word timings."""
        if self.words:
            return sum(w.probability for w in self.words) / len(self.words)
        return min(1.0, math.exp(self.avg_logprob))


Speech = list[tuple[float, float]]


def voiced_fraction(start: float, end: float, speech: Speech) -> float:
    """Share of [start, end] covered by the speech spans (for an instant: 1 or 0)."""
    if end <= start:
        return 1.0 if any(s <= start <= e for s, e in speech) else 0.0
    span = end - start
    covered = sum(max(0.0, min(end, e) - max(start, s)) for s, e in speech)
    return min(1.0, covered / span)


def is_phantom(text: str) -> bool:
    """The whole text is a known phantom phrase, credit or sound annotation."""
    b = bare(text)
    if b in _PHANTOMS:
        return True
    nfkc = unicodedata.normalize("NFKC", text).strip()
    return bool(nfkc) and any(r.search(nfkc) for r in _PHANTOM_RES)


def is_outro(text: str) -> bool:
    return bare(text) in _OUTROS


def doubtful(seg: RawSegment) -> bool:
    """Whisper's own signals that a segment may not be (this) speech."""
    return (seg.no_speech_prob > 0.2 or seg.avg_logprob < -0.6 or seg.confidence < 0.5
            or seg.compression_ratio > 2.0)


def _loop_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges to cut so that each loop keeps one unit. Digit strings
    (card and phone numbers) and punctuation runs are never loops."""
    spans = []
    for m in _LOOP.finditer(text):
        unit = m.group(1)
        if not bare(unit) or bare(unit).isdigit():
            continue
        spans.append((m.start() + len(unit), m.end()))
    return spans


def collapse_loops(text: str) -> str:
    """'はいはいはいはいはい' style loops are cut to a single unit."""
    for a, b in reversed(_loop_spans(text)):
        text = text[:a] + text[b:]
    return text


def collapse_segment_loops(seg: RawSegment) -> bool:
    """Cut loops out of a segment, keeping its words consistent with its text (the
    words starting inside a cut range go). Returns whether anything was cut."""
    if not seg.words:
        collapsed = collapse_loops(seg.text)
        changed = collapsed != seg.text
        seg.text = collapsed
        return changed
    joined = "".join(w.text for w in seg.words)
    spans = _loop_spans(joined)
    if not spans:
        return False
    kept, pos = [], 0
    for w in seg.words:
        lead = len(w.text) - len(w.text.lstrip())
        first_char = pos + lead
        if not any(a <= first_char < b for a, b in spans):
            kept.append(w)
        pos += len(w.text)
    if not kept:
        return False
    seg.words = kept
    seg.text = "".join(w.text for w in kept).strip()
    seg.start, seg.end = kept[0].start, kept[-1].end
    return True


def _record(seg: RawSegment, reason: str, text: str | None = None) -> dict:
    return {"start": round(seg.start, 2), "end": round(seg.end, 2),
            "text": seg.text if text is None else text, "reason": reason}


def _isolated(i: int, segments: list[RawSegment]) -> bool:
    seg = segments[i]
    before = segments[i - 1].end if i > 0 else float("-inf")
    after = segments[i + 1].start if i + 1 < len(segments) else float("inf")
    return seg.start - before > OUTRO_ISOLATION_S and after - seg.end > OUTRO_ISOLATION_S


def drop_reason(i: int, segments: list[RawSegment], speech: Speech | None) -> str | None:
    """Why segment i (of one channel, in time order) is a hallucination, or None."""
    seg = segments[i]
    text = seg.text.strip()
    if not bare(text):
        return "empty"
    if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB:
        return "no_speech"
    if speech is not None and voiced_fraction(seg.start, seg.end, speech) < MIN_VOICED_FRACTION:
        return "no_voice_activity"
    if is_phantom(text):
        return "phantom_phrase"
    if is_outro(text) and seg.confidence < OUTRO_MAX_CONFIDENCE and _isolated(i, segments):
        return "phantom_outro"
    if _loop_spans(text) and seg.compression_ratio > MAX_COMPRESSION \
            and seg.avg_logprob < LOW_LOGPROB:
        return "repetition_loop"
    return None


def _repeats(seg: RawSegment, previous: RawSegment | None, speech: Speech | None) -> bool:
    """Whisper re-emitting the previous segment: same text right after it, and either
    doubtful or mostly unvoiced (a person repeating themselves is kept)."""
    if previous is None or seg.start - previous.end > REPEAT_MAX_GAP_S:
        return False
    text = bare(seg.text)
    if len(text) < REPEAT_MIN_CHARS or text != bare(previous.text):
        return False
    unvoiced = speech is not None and voiced_fraction(seg.start, seg.end, speech) < 0.5
    return doubtful(seg) or unvoiced


def guard(segments: list[RawSegment], speech: Speech | None,
          echoes: list[tuple[tuple[str, ...], int, bool]] | None = None
          ) -> tuple[list[RawSegment], list[dict]]:
    """Keep plausible segments of one channel; return (kept, dropped-with-reasons).

    ``speech`` is the channel's voice activity as (start, end) spans in seconds (the
    same spans the VAD gave Whisper), or None when voice activity is unknown.
    ``echoes``: (prompt terms, shortest run, in order?) of what Whisper was prompted with — a run
    of them in the text is the prompt repeated (``engine.asr.echo``), cut out."""
    from rokuon.engine.asr.echo import cut_echo

    segments = sorted(segments, key=lambda s: s.start)
    kept: list[RawSegment] = []
    dropped: list[dict] = []
    for i, seg in enumerate(segments):
        reason = drop_reason(i, segments, speech)
        if reason is not None:
            dropped.append(_record(seg, reason))
            continue
        echoed = None
        for terms, min_run, ordered in echoes or []:
            before = seg.text
            echoed = cut_echo(seg, terms, min_run, ordered)
            if echoed:
                dropped.append(_record(seg, "prompt_echo", before.strip()))
                break
        if echoed == "all":
            continue
        before = seg.text
        if collapse_segment_loops(seg):
            dropped.append(_record(seg, "repetition_collapsed", before.strip()))
        if _repeats(seg, kept[-1] if kept else None, speech):
            dropped.append(_record(seg, "repeated_segment"))
            continue
        kept.append(seg)
    return kept, dropped
