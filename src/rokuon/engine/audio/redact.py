"""Bleep spans of a recording: the samples inside each span are replaced by a 1 kHz
tone on every channel (the original speech is gone, not just covered), and the result
is written as lossless FLAC at the recording's own sample rate and channel count
(16 kHz when the source is above 48 kHz)."""

from __future__ import annotations

import io
from typing import BinaryIO

import av
import numpy as np
import soundfile as sf

from rokuon.engine.audio.decode import (
    Frames,
    audio_stream,
    check_header,
    layout_name,
    open_container,
)
from rokuon.engine.audio.playback import playback_rate
from rokuon.engine.audio.sandbox import Limits

TONE_HZ = 1000.0
TONE_LEVEL = 0.2


def decode_native(src: BinaryIO, *, max_channels: int = 2) -> tuple[np.ndarray, int]:
    """(samples × channels float32, rate) at the source's own rate (≤ 48 kHz)."""
    container = open_container(src)
    try:
        info, stream = audio_stream(container)
        check_header(info, None, max_channels)
        rate = playback_rate(info.sample_rate)
        resampler = av.AudioResampler(format="fltp", layout=layout_name(info.channels),
                                      rate=rate)
        frames = Frames(container, stream, resampler)
        parts = [f.to_ndarray() for f in frames]
    finally:
        container.close()
    frames.finish(info.duration_s)
    data = np.concatenate(parts, axis=1) if parts else np.zeros((info.channels, 0), np.float32)
    return data.T.copy(), rate


def bleep(samples: np.ndarray, rate: int, spans: list[tuple[float, float]], *,
          pad_s: float = 0.15) -> np.ndarray:
    """A copy of ``samples`` (n × channels) with every span (seconds, padded) replaced
    by the tone."""
    out = samples.copy()
    n = out.shape[0]
    for s, e in spans:
        a = max(0, int((s - pad_s) * rate))
        b = min(n, int((e + pad_s) * rate) + 1)
        if b <= a:
            continue
        t = np.arange(a, b) / rate
        tone = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
        out[a:b, :] = tone[:, None]
    return out


def bleep_recording(src: BinaryIO, spans: list[tuple[float, float]],
                    limits: Limits | None = None) -> bytes:
    """The recording with ``spans`` bleeped, as FLAC bytes. The recording is decoded in
    the sandbox (``limits``; default limits when None)."""
    from rokuon.engine.audio import sandbox

    samples, rate = sandbox.decode_native(src, limits)
    buf = io.BytesIO()
    sf.write(buf, bleep(samples, rate, spans), rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()
