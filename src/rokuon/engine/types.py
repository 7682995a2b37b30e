"""Plain data shared by the engine: decoded audio, words, segments, transcripts.

The engine (audio/, asr/, analysis/) is pure computation: it imports nothing of
rokuon above it, touches no database and no disk except model files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ENGINE_SAMPLE_RATE = 16_000


class AudioError(ValueError):
    """The audio could not be used; the message says what was wrong (no file name:
    callers prefix it with the file name)."""


@dataclass
class AudioInfo:
    """What the container says about the source recording."""

    container: str  # e.g. "wav", "mp3", "ogg", "flac", "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # e.g. "pcm_mulaw", "pcm_alaw", "pcm_s16le", "mp3", "opus", "flac", "aac"
    sample_rate: int  # source sample rate
    channels: int  # source channel count
    duration_s: float


@dataclass
class DecodedAudio:
    """Audio resampled to ENGINE_SAMPLE_RATE, float32 in [-1, 1], one array per channel."""

    info: AudioInfo
    channels: list[np.ndarray]
    sample_rate: int = ENGINE_SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0


@dataclass
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass
class Segment:
    speaker: str  # "agent" | "customer" | "speaker_N"
    start: float  # seconds from the start of the recording
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    confidence: float = 0.0  # 0..1, mean word probability (or exp(avg_logprob))
    channel: int | None = None  # source channel for stereo, None for mono
    # None: the transcript's language; "en" etc.: another language was spoken here;
    # "und": not intelligible (the text is then a marker, not a guess)
    language: str | None = None


@dataclass
class Transcript:
    segments: list[Segment]
    language: str
    duration_s: float
    engine: str  # e.g. "faster-whisper"
    model: str  # model spec / name
    # mono only: how speakers were found and mapped, e.g.
    # {"method": "resemblyzer+agglomerative", "speakers": 2, "role_confidence": 0.8}
    diarization: dict | None = None
    # hallucination guard: what was dropped and why
    dropped: list[dict] = field(default_factory=list)
    # stereo: each role's voice activity (seconds) as the VAD found it, for talk metrics
    speech: dict[str, list[tuple[float, float]]] | None = None
    # what produced it: model (spec, path, sha256), decoding options, numerics, code
    provenance: dict | None = None
