"""Decode recordings with PyAV into per-channel 16 kHz float32 arrays.

Sources are seekable binary file objects (our decrypting blob reader, BytesIO,
an open file): plaintext audio is never written to disk. Every problem raises
``AudioError`` with a one-line message without the file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

import av
import numpy as np

from rokuon.engine.types import ENGINE_SAMPLE_RATE, AudioError, AudioInfo, DecodedAudio

MIN_RATE, MAX_RATE = 4000, 192_000
# decoded/declared below this ratio (and more than TRUNCATION_MIN_GAP_S short) → truncated
TRUNCATION_TOLERANCE = 0.9
TRUNCATION_MIN_GAP_S = 0.5
PROGRESS_EVERY_S = 30.0

# Set only inside a sandboxed decoding process (engine/audio/sandbox.py), which grows its
# CPU, memory and time budgets with the length of the recording: called with the seconds
# of audio to budget for and the channel count, once the header is accepted and then
# every PROGRESS_EVERY_S of decoded audio (a header may understate the length).
progress_hook: Callable[[float, int], None] | None = None


def fmt_duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def layout_name(channels: int) -> str:
    """Channel layout for output frames (sources often say '2 channels' without order)."""
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def open_container(src: BinaryIO) -> av.container.InputContainer:
    src.seek(0, 2)
    if src.tell() == 0:
        raise AudioError("empty file (0 bytes)")
    src.seek(0)
    try:
        return av.open(src, mode="r", metadata_errors="replace")
    except av.error.InvalidDataError as exc:
        raise AudioError("not a recognised audio file (unknown or corrupt container)") from exc
    except av.error.EOFError as exc:
        raise AudioError("truncated: the file ends inside its header") from exc
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot read the container: {exc}") from exc


def audio_stream(container: av.container.InputContainer
                 ) -> tuple[AudioInfo, av.audio.AudioStream]:
    """The first audio stream and what its header declares."""
    streams = [s for s in container.streams if s.type == "audio"]
    if not streams:
        raise AudioError("no audio stream in the file")
    stream = streams[0]
    ctx = stream.codec_context
    if ctx is None:  # FFmpeg has no decoder for the codec the header names
        raise AudioError("unsupported audio codec (no decoder for it)")
    channels = ctx.channels or (ctx.layout.nb_channels if ctx.layout else 0)
    if container.duration is not None:
        duration = container.duration / av.time_base
    elif stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = 0.0
    info = AudioInfo(container=container.format.name, codec=ctx.name,
                     sample_rate=ctx.sample_rate or 0, channels=channels,
                     duration_s=max(duration, 0.0))
    return info, stream


def check_header(info: AudioInfo, max_duration_s: float | None, max_channels: int) -> None:
    """Refuse from the header alone, before decoding anything."""
    if info.channels < 1:
        raise AudioError("the audio stream has no channels")
    if info.channels > max_channels:
        raise AudioError(f"{info.channels} channels; at most {max_channels} supported "
                         "(stereo agent/customer or mono)")
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate {info.sample_rate} Hz "
                         f"(expected {MIN_RATE}–{MAX_RATE} Hz)")
    check_duration(info.duration_s, max_duration_s)
    if progress_hook is not None:
        progress_hook(info.duration_s, info.channels)


def check_duration(seconds: float, max_duration_s: float | None) -> None:
    if max_duration_s is not None and seconds > max_duration_s:
        raise AudioError(f"duration {fmt_duration(seconds)} exceeds the limit of "
                         f"{fmt_duration(max_duration_s)}")


def check_decoded_duration(seconds: float, max_duration_s: float | None) -> None:
    """While decoding a file whose header understated (or did not state) its length;
    one second of slack for rounding in headers and frame sizes."""
    if max_duration_s is not None and seconds > max_duration_s + 1.0:
        raise AudioError(f"duration exceeds the limit of {fmt_duration(max_duration_s)} "
                         "(found while decoding; the header declared less)")


def check_complete(declared_s: float, decoded_s: float) -> None:
    if decoded_s <= 0:
        raise AudioError("no decodable audio (truncated or corrupt)")
    if declared_s > 1.0 and decoded_s < declared_s * TRUNCATION_TOLERANCE \
            and declared_s - decoded_s > TRUNCATION_MIN_GAP_S:
        raise AudioError(f"truncated: header declares {declared_s:.1f} s, only "
                         f"{decoded_s:.1f} s decodable")


class _FormatChanged(Exception):
    pass


class Frames:
    """Decoded (and optionally resampled, flushed at the end) frames of one stream.

    A decoder error stops the iteration and is remembered; ``finish`` then says
    whether the file is usable: a damaged last second (a recorder cut off mid-frame)
    is tolerated, anything else is truncated or corrupt. Frames must keep the sample
    format, layout and rate of the first one (a change mid-stream is damage too)."""

    def __init__(self, container: av.container.InputContainer, stream: av.audio.AudioStream,
                 resampler: av.AudioResampler | None = None) -> None:
        self.container, self.stream, self.resampler = container, stream, resampler
        self.seconds = 0.0  # decoded source audio
        self.error: str | None = None
        self._channels = stream.codec_context.channels or 1
        self._report_at = PROGRESS_EVERY_S
        self._shape: tuple[str, str, int] | None = None

    def __iter__(self) -> Iterator[av.AudioFrame]:
        try:
            for packet in self.container.demux(self.stream):
                for frame in packet.decode():
                    shape = (frame.format.name, frame.layout.name, frame.sample_rate)
                    if self._shape is None:
                        self._shape = shape
                    elif shape != self._shape:
                        raise _FormatChanged
                    self.seconds += frame.samples / (frame.sample_rate or 1)
                    if progress_hook is not None and self.seconds >= self._report_at:
                        # room for the buffer to grow by half before the next report
                        progress_hook(self.seconds * 1.5 + PROGRESS_EVERY_S, self._channels)
                        self._report_at = self.seconds + PROGRESS_EVERY_S
                    if self.resampler is None:
                        yield frame
                    else:
                        yield from self.resampler.resample(frame)
        except av.error.FFmpegError as exc:
            self.error = exc.strerror or str(exc)
        except _FormatChanged:
            self.error = "the audio format changes in the middle of the stream"
        if self.resampler is not None:
            yield from self.resampler.resample(None)

    def finish(self, declared_s: float) -> None:
        check_complete(declared_s, self.seconds)
        if self.error and not (declared_s > 0 and self.seconds >= declared_s - 1.0):
            raise AudioError(f"corrupt audio data after {self.seconds:.1f} s: {self.error}")


class _Buffer:
    """Per-channel float32 samples, preallocated from the declared duration so that a
    long call is not held twice (list of parts + concatenation)."""

    def __init__(self, channels: int, expected: int) -> None:
        self.data = np.empty((channels, max(expected, ENGINE_SAMPLE_RATE)), np.float32)
        self.n = 0

    def add(self, block: np.ndarray) -> None:
        end = self.n + block.shape[1]
        if end > self.data.shape[1]:
            grown = np.empty((self.data.shape[0], max(end, self.data.shape[1] * 3 // 2)),
                             np.float32)
            grown[:, :self.n] = self.data[:, :self.n]
            self.data = grown
        self.data[:, self.n:end] = block
        self.n = end

    def channels(self) -> list[np.ndarray]:
        data = self.data[:, :self.n]
        if self.n < self.data.shape[1] * 0.9:  # do not keep a large unused tail alive
            data = data.copy()
        return list(data)


def probe(src: BinaryIO) -> AudioInfo:
    """What the header declares (nothing is decoded)."""
    container = open_container(src)
    try:
        return audio_stream(container)[0]
    finally:
        container.close()


def validate(src: BinaryIO, *, max_duration_s: float | None = None,
             max_channels: int = 2) -> AudioInfo:
    """Decode the whole stream without keeping it (constant memory): proves the file is
    usable audio and not truncated. Returns the header info with the real duration."""
    container = open_container(src)
    try:
        info, stream = audio_stream(container)
        check_header(info, max_duration_s, max_channels)
        frames = Frames(container, stream)
        for _ in frames:
            check_decoded_duration(frames.seconds, max_duration_s)
    finally:
        container.close()
    frames.finish(info.duration_s)
    info.duration_s = frames.seconds
    return info


def decode(src: BinaryIO, *, max_duration_s: float | None = None,
           max_channels: int = 2) -> DecodedAudio:
    """Decode every channel separately, resampled to 16 kHz float32 in [-1, 1].

    The header is checked first (channels, sample rate, declared duration), so an
    over-long file is refused without decoding it."""
    container = open_container(src)
    try:
        info, stream = audio_stream(container)
        check_header(info, max_duration_s, max_channels)
        resampler = av.AudioResampler(format="fltp", layout=layout_name(info.channels),
                                      rate=ENGINE_SAMPLE_RATE)
        buf = _Buffer(info.channels, int(info.duration_s * 1.01 * ENGINE_SAMPLE_RATE))
        frames = Frames(container, stream, resampler)
        for frame in frames:
            buf.add(frame.to_ndarray())
            check_decoded_duration(frames.seconds, max_duration_s)
    finally:
        container.close()
    frames.finish(info.duration_s)
    decoded_s = buf.n / ENGINE_SAMPLE_RATE
    if info.duration_s <= 0:
        info.duration_s = decoded_s
    return DecodedAudio(info=info, channels=buf.channels())
