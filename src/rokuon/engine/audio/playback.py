"""Transcode a recording to a browser-playable PCM16 WAV, in memory only."""

from __future__ import annotations

import io
from typing import BinaryIO

import av

from rokuon.engine.audio.decode import (
    Frames,
    audio_stream,
    check_header,
    layout_name,
    open_container,
)
from rokuon.engine.types import ENGINE_SAMPLE_RATE

MAX_PLAYBACK_RATE = 48_000  # above this, browsers get 16 kHz (speech needs no more)


def playback_rate(source_rate: int) -> int:
    return source_rate if source_rate <= MAX_PLAYBACK_RATE else ENGINE_SAMPLE_RATE


def to_wav_pcm16(src: BinaryIO, *, max_channels: int = 2) -> bytes:
    """16-bit PCM WAV with the recording's channels (agent/customer kept apart) at its
    own sample rate (16 kHz when the source is above 48 kHz)."""
    container = open_container(src)
    out = io.BytesIO()
    try:
        info, stream = audio_stream(container)
        check_header(info, None, max_channels)
        rate, layout = playback_rate(info.sample_rate), layout_name(info.channels)
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        frames = Frames(container, stream, resampler)
        with av.open(out, mode="w", format="wav") as wav:
            target = wav.add_stream("pcm_s16le", rate=rate, layout=layout)
            for frame in frames:
                frame.pts = None
                wav.mux(target.encode(frame))
            wav.mux(target.encode(None))
    finally:
        container.close()
    frames.finish(info.duration_s)
    return out.getvalue()
