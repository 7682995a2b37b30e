"""Serving a stored recording to the browser, by byte range, with bounded memory.

``plan`` decides from the stored bytes (never from a file name) how a recording is
served:

- ``direct``: the browser plays it as stored (PCM16 WAV, MP3, Ogg Opus/Vorbis/FLAC, FLAC,
  AAC in MP4 — the bleeped copy PCI mode keeps is FLAC): byte ranges are read from the
  decrypting reader chunk by chunk;
- ``pcm_wav``: a WAV with another PCM-family codec (G.711 μ-law/A-law, 8/24/32-bit,
  float, WAVE_FORMAT_EXTENSIBLE): served as a PCM16 WAV whose byte ranges are computed
  from the matching input frames alone (``wav_layout``);
- ``transcode``: anything else (ADPCM, GSM, AMR, Speex …): decoded whole, in memory, by
  ``to_wav_pcm16`` — the one path whose memory grows with the call's length.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

import av

from rokuon.engine.audio.decode import (
    Frames,
    audio_stream,
    check_header,
    layout_name,
    open_container,
)
from rokuon.engine.audio.sniff import MEDIA_TYPES, sniff_format
from rokuon.engine.audio.wav_layout import WavLayout, pcm16_range, read_layout
from rokuon.engine.types import ENGINE_SAMPLE_RATE

STREAM_BLOCK = 64 * 1024  # bytes read (and decrypted) per step of a streamed response
# codecs a browser plays inside each (sniffed) container; the codec comes from ingest
_BROWSER_CODECS = {"mp3": None, "flac": None, "ogg": {"opus", "vorbis", "flac"},
                   "m4a": {"aac", "mp3"}}

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


@dataclass(frozen=True)
class Plan:
    kind: Literal["direct", "pcm_wav", "transcode"]
    media_type: str
    extension: str
    size: int  # bytes served (0 for transcode: known once decoded)
    layout: WavLayout | None = None


def plan(src: BinaryIO, size: int, codec: str | None) -> Plan:
    """How to serve the recording ``src`` (``size`` plaintext bytes; ``codec`` as found
    at ingest, used only for non-WAV containers)."""
    src.seek(0)
    fmt = sniff_format(src.read(16))
    if fmt == "wav":
        layout = read_layout(src, size)
        if layout is not None and layout.frames > 0 and layout.channels <= 2:
            if layout.is_plain_pcm16:
                return Plan("direct", "audio/wav", "wav", size, layout)
            return Plan("pcm_wav", "audio/wav", "wav", layout.pcm16_size, layout)
    elif fmt in _BROWSER_CODECS:
        allowed = _BROWSER_CODECS[fmt]
        if allowed is None or (codec or "") in allowed:
            return Plan("direct", MEDIA_TYPES[fmt], fmt, size)
    return Plan("transcode", "audio/wav", "wav", 0)


def iter_range(src: BinaryIO, p: Plan, start: int, end: int,
               block: int = STREAM_BLOCK) -> Iterator[bytes]:
    """Bytes [start, end] (inclusive) of what ``p`` serves, ``block`` bytes at a time;
    only the chunks under the range are ever decrypted."""
    pos = start
    while pos <= end:
        stop = min(end, pos + block - 1)
        if p.kind == "direct":
            src.seek(pos)
            data = src.read(stop - pos + 1)
            if not data:
                return
        elif p.kind == "pcm_wav" and p.layout is not None:
            data = pcm16_range(src, p.layout, pos, stop)
        else:
            raise ValueError("a transcoded recording is served from memory, not by range")
        yield data
        pos += len(data)
