"""Decode recordings with PyAV into per-channel 16 kHz float32 arrays.

Sources are seekable binary file objects (our decrypting blob reader, BytesIO,
an open file): plaintext audio is never written to disk.
"""

from __future__ import annotations

from typing import BinaryIO

import av
import numpy as np

from rokuon.engine.types import ENGINE_SAMPLE_RATE, AudioError, AudioInfo, DecodedAudio

MIN_RATE, MAX_RATE = 4000, 192_000
TRUNCATION_TOLERANCE = 0.9  # decoded/declared below this → truncated


def fmt_duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def _open(src: BinaryIO) -> av.container.InputContainer:
    src.seek(0, 2)
    if src.tell() == 0:
        raise AudioError("empty file (0 bytes)")
    src.seek(0)
    try:
        return av.open(src, mode="r")
    except av.error.InvalidDataError as exc:
        raise AudioError("not a recognised audio file (unknown or corrupt container)") from exc
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot read the container: {exc}") from exc


def _info(container: av.container.InputContainer) -> tuple[AudioInfo, av.audio.AudioStream]:
    streams = [s for s in container.streams if s.type == "audio"]
    if not streams:
        raise AudioError("no audio stream in the file")
    stream = streams[0]
    ctx = stream.codec_context
    channels = ctx.channels or (ctx.layout.nb_channels if ctx.layout else 0)
    rate = ctx.sample_rate or 0
    if container.duration is not None:
        duration = container.duration / av.time_base
    elif stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = 0.0
    info = AudioInfo(container=container.format.name, codec=ctx.name, sample_rate=rate,
                     channels=channels, duration_s=max(duration, 0.0))
    return info, stream


def _check(info: AudioInfo, max_duration_s: float | None, max_channels: int) -> None:
    if info.channels < 1:
        raise AudioError("the audio stream has no channels")
    if info.channels > max_channels:
        raise AudioError(f"{info.channels} channels; at most {max_channels} supported "
                         "(stereo agent/customer or mono)")
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate {info.sample_rate} Hz "
                         f"(expected {MIN_RATE}–{MAX_RATE} Hz)")
    if max_duration_s is not None and info.duration_s > max_duration_s:
        raise AudioError(f"duration {fmt_duration(info.duration_s)} exceeds the limit of "
                         f"{fmt_duration(max_duration_s)}")


def probe(src: BinaryIO) -> AudioInfo:
    container = _open(src)
    try:
        return _info(container)[0]
    finally:
        container.close()


def validate(src: BinaryIO, *, max_duration_s: float | None = None,
             max_channels: int = 2) -> AudioInfo:
    """Decode the whole stream without keeping it (constant memory): proves the file is
    usable audio and not truncated. Returns the header info with the real duration."""
    container = _open(src)
    try:
        info, stream = _info(container)
        _check(info, max_duration_s, max_channels)
        samples = 0
        rate = info.sample_rate
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    samples += frame.samples
                    rate = frame.sample_rate or rate
        except av.error.FFmpegError as exc:
            raise AudioError(f"corrupt audio data: {exc}") from exc
    finally:
        container.close()
    decoded_s = samples / rate if rate else 0.0
    if samples == 0:
        raise AudioError("no decodable audio (truncated or corrupt)")
    if max_duration_s is not None and decoded_s > max_duration_s:
        raise AudioError(f"duration {fmt_duration(decoded_s)} exceeds the limit of "
                         f"{fmt_duration(max_duration_s)}")
    if info.duration_s > 1.0 and decoded_s < info.duration_s * TRUNCATION_TOLERANCE:
        raise AudioError(f"truncated: header declares {info.duration_s:.1f} s, only "
                         f"{decoded_s:.1f} s decodable")
    info.duration_s = decoded_s
    return info


def decode(src: BinaryIO, *, max_duration_s: float | None = None,
           max_channels: int = 2) -> DecodedAudio:
    """Decode every channel separately, resampled to 16 kHz float32 in [-1, 1]."""
    container = _open(src)
    try:
        info, stream = _info(container)
        _check(info, max_duration_s, max_channels)
        layout = "stereo" if info.channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=ENGINE_SAMPLE_RATE)
        parts: list[np.ndarray] = []
        limit = (max_duration_s or float("inf")) * ENGINE_SAMPLE_RATE
        total = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        arr = out.to_ndarray()
                        parts.append(arr)
                        total += arr.shape[1]
                if total > limit:
                    raise AudioError(f"duration exceeds the limit of "
                                     f"{fmt_duration(max_duration_s or 0)}")
            for out in resampler.resample(None):
                parts.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise AudioError(f"corrupt audio data: {exc}") from exc
    finally:
        container.close()
    if not parts:
        raise AudioError("no decodable audio (truncated or corrupt)")
    data = np.concatenate(parts, axis=1).astype(np.float32, copy=False)
    decoded_s = data.shape[1] / ENGINE_SAMPLE_RATE
    if info.duration_s > 1.0 and decoded_s < info.duration_s * TRUNCATION_TOLERANCE:
        raise AudioError(f"truncated: header declares {info.duration_s:.1f} s, only "
                         f"{decoded_s:.1f} s decodable")
    if info.duration_s <= 0:
        info.duration_s = decoded_s
    return DecodedAudio(info=info, channels=[np.ascontiguousarray(c) for c in data])
