"""What every analyzer receives: the call's segments plus optional audio features,
and the analysis configuration (word lists, patterns, scorecards) as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rokuon.engine.types import ENGINE_SAMPLE_RATE, Segment

Span = tuple[float, float]


@dataclass
class CallInput:
    segments: list[Segment]
    duration_s: float
    language: str = "ja"
    direction: str | None = None  # "inbound" | "outbound" | None
    # voice activity per speaker role in seconds (stereo: each channel's tight activity,
    # engine.audio.activity, never the recogniser's padded VAD); None when
    # unknown — analyzers then fall back to segment times
    speech: dict[str, list[Span]] | None = None
    # mono: voice activity of the mixed audio (tight, no padding); None when unknown
    activity: list[Span] | None = None
    # 16 kHz float32 audio per speaker role (stereo); {"mixed": …} for mono; None: no audio
    audio: dict[str, np.ndarray] | None = None
    sample_rate: int = ENGINE_SAMPLE_RATE
    notes: list[str] = field(default_factory=list)

    def roles(self) -> list[str]:
        seen: list[str] = []
        for s in self.segments:
            if s.speaker not in seen:
                seen.append(s.speaker)
        return seen

    def by_role(self, role: str) -> list[Segment]:
        return [s for s in self.segments if s.speaker == role]


def finding(seg_index: int, seg: Segment, start: float, end: float, **extra: Any
            ) -> dict[str, Any]:
    """The common shape of a finding: who, when (seconds), which segment."""
    return {"speaker": seg.speaker, "start": round(start, 2), "end": round(end, 2),
            "segment": seg_index, **extra}
