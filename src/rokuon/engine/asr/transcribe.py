"""faster-whisper transcription: per channel for stereo, diarized for mono."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rokuon.engine.asr.hallucination import RawSegment, RawWord, guard
from rokuon.engine.asr.model import load_model
from rokuon.engine.asr.words import join_words
from rokuon.engine.types import ENGINE_SAMPLE_RATE, DecodedAudio, Segment, Transcript, Word


@dataclass
class AsrOptions:
    model: str = "packaged"
    language: str | None = "ja"  # None or "auto": detect
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0
    initial_prompt: str | None = None


def voiced_fraction_fn(samples: np.ndarray):  # type: ignore[no-untyped-def]
    """(start, end) -> share of the span that Silero VAD finds voiced, computed on
    demand on that span only (with a little context)."""
    from rokuon.engine.asr.hallucination import voiced_fraction

    def fn(start: float, end: float) -> float:
        pad = 0.5
        a = max(0.0, start - pad)
        lo, hi = int(a * ENGINE_SAMPLE_RATE), int((end + pad) * ENGINE_SAMPLE_RATE)
        spans = [(s + a, e + a) for s, e in speech_timestamps(samples[lo:hi])]
        return voiced_fraction(start, end, spans)

    return fn


def speech_timestamps(samples: np.ndarray) -> list[tuple[float, float]]:
    """Voice activity (Silero VAD, shipped with faster-whisper) in seconds."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(samples, VadOptions(), sampling_rate=ENGINE_SAMPLE_RATE)
    return [(s["start"] / ENGINE_SAMPLE_RATE, s["end"] / ENGINE_SAMPLE_RATE) for s in spans]


SPLIT_GAP_S = 0.8  # a pause this long inside a Whisper segment starts a new segment


def _to_engine(seg: RawSegment, speaker: str, channel: int | None) -> list[Segment]:
    """Engine segments from one Whisper segment, split where the speaker paused (Whisper
    often glues a party's turns together across the other party's turn)."""
    words = [Word(w.text.strip(), w.start, w.end, w.probability) for w in seg.words
             if w.text.strip()]
    if not words:
        return [Segment(speaker=speaker, start=seg.start, end=seg.end, text=seg.text.strip(),
                        confidence=float(np.exp(seg.avg_logprob)), channel=channel)]
    groups: list[list[Word]] = [[words[0]]]
    for w in words[1:]:
        if w.start - groups[-1][-1].end > SPLIT_GAP_S:
            groups.append([w])
        else:
            groups[-1].append(w)
    if len(groups) == 1:
        return [Segment(speaker=speaker, start=seg.start, end=seg.end, text=seg.text.strip(),
                        words=words, confidence=float(np.mean([w.probability for w in words])),
                        channel=channel)]
    return [Segment(speaker=speaker, start=g[0].start, end=g[-1].end, text=join_words(g),
                    words=g, confidence=float(np.mean([w.probability for w in g])),
                    channel=channel) for g in groups]


class WhisperEngine:
    """Loads the model once (lazily) and transcribes calls."""

    name = "faster-whisper"

    def __init__(self, options: AsrOptions, models_dir: Path) -> None:
        self.options = options
        self.models_dir = Path(models_dir)
        self._model: Any = None
        self._lock = threading.Lock()
        self._diarizer: Any = None

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                o = self.options
                self._model = load_model(o.model, self.models_dir, device=o.device,
                                         compute_type=o.compute_type, cpu_threads=o.cpu_threads)
            return self._model

    def _language(self) -> str | None:
        lang = self.options.language
        return None if lang in (None, "", "auto") else lang

    def transcribe_channel(self, samples: np.ndarray) -> tuple[list[RawSegment], str]:
        o = self.options
        segments, info = self.model().transcribe(
            samples, language=self._language(), beam_size=o.beam_size, vad_filter=o.vad,
            word_timestamps=o.word_timestamps, initial_prompt=o.initial_prompt,
            condition_on_previous_text=True)
        raw = [RawSegment(start=s.start, end=s.end, text=s.text, avg_logprob=s.avg_logprob,
                          no_speech_prob=s.no_speech_prob,
                          compression_ratio=s.compression_ratio,
                          words=[RawWord(w.word, w.start, w.end, w.probability)
                                 for w in (s.words or [])])
               for s in segments]
        return raw, info.language

    def transcribe(self, audio: DecodedAudio, roles: list[str]) -> Transcript:
        segments: list[Segment] = []
        dropped: list[dict] = []
        languages: list[str] = []
        diarization = None
        if len(audio.channels) > 1:
            for ch, samples in enumerate(audio.channels):
                role = roles[ch] if ch < len(roles) else f"speaker_{ch}"
                raw, lang = self.transcribe_channel(samples)
                kept, why = guard(raw, voiced_fraction_fn(samples) if self.options.vad else None)
                languages.append(lang)
                segments += [x for s in kept for x in _to_engine(s, role, ch)]
                dropped += [{**d, "speaker": role} for d in why]
        else:
            samples = audio.channels[0]
            raw, lang = self.transcribe_channel(samples)
            speech = speech_timestamps(samples)
            kept, dropped = guard(raw, speech if self.options.vad else None)
            languages.append(lang)
            from rokuon.engine.asr.diarize import Diarizer

            if self._diarizer is None:
                self._diarizer = Diarizer()
            segments, diarization = self._diarizer.assign(
                samples, [x for s in kept for x in _to_engine(s, "speaker_0", None)], speech)
        segments.sort(key=lambda s: (s.start, s.end))
        return Transcript(segments=segments, language=languages[0] if languages else "",
                          duration_s=audio.duration_s, engine=self.name,
                          model=self.options.model, diarization=diarization, dropped=dropped)
