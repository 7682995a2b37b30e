"""Transcode a recording to a browser-playable PCM16 WAV, in memory only."""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
import soundfile as sf

from rokuon.engine.audio.decode import decode
from rokuon.engine.types import ENGINE_SAMPLE_RATE


def to_wav_pcm16(src: BinaryIO) -> bytes:
    """16-bit PCM WAV at 16 kHz with the recording's channels (agent/customer kept apart)."""
    audio = decode(src)
    data = np.stack(audio.channels, axis=1)
    buf = io.BytesIO()
    sf.write(buf, data, ENGINE_SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()
