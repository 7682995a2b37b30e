"""Decoding every supported format from memory; channels kept apart; clear errors."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
import soundfile as sf

from rokuon.engine.audio.decode import decode, probe
from rokuon.engine.audio.sniff import sniff_format
from rokuon.engine.types import AudioError


def left_tone(sr: int, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.4 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1)


def sf_bytes(data: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def av_bytes(data: np.ndarray, sr: int, container: str, codec: str) -> bytes:
    """Encode with PyAV (for AAC in M4A)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T.astype(np.float32)),
                                           format="fltp", layout="stereo")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


CASES = [
    ("wav", "pcm_s16le", lambda: sf_bytes(left_tone(16000), 16000, "WAV", "PCM_16")),
    ("wav", "pcm_mulaw", lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ULAW")),
    ("wav", "pcm_alaw", lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ALAW")),
    ("wav", "pcm_s16le", lambda: sf_bytes(left_tone(11025), 11025, "WAV", "PCM_16")),
    ("flac", "flac", lambda: sf_bytes(left_tone(44100), 44100, "FLAC", "PCM_16")),
    ("mp3", "mp3", lambda: sf_bytes(left_tone(44100), 44100, "MP3", "MPEG_LAYER_III")),
    ("ogg", "opus", lambda: sf_bytes(left_tone(48000), 48000, "OGG", "OPUS")),
    ("m4a", "aac", lambda: av_bytes(left_tone(48000), 48000, "mp4", "aac")),
]


@pytest.mark.parametrize("fmt, codec, make", CASES)
def test_formats_decode_with_channels_apart(fmt: str, codec: str, make) -> None:  # type: ignore[no-untyped-def]
    data = make()
    assert sniff_format(data[:64]) == fmt
    audio = decode(io.BytesIO(data))
    assert audio.info.codec.startswith(codec)
    assert audio.info.channels == 2 and len(audio.channels) == 2
    assert audio.sample_rate == 16000
    assert abs(audio.duration_s - 2.0) < 0.15
    left, right = (float(np.sqrt(np.mean(c ** 2))) for c in audio.channels)
    assert left > 0.1 and right < 0.01  # the tone stays on the agent's channel


def test_probe_reads_the_header() -> None:
    info = probe(io.BytesIO(sf_bytes(left_tone(8000, 3.0), 8000, "WAV", "ULAW")))
    assert (info.container, info.codec, info.sample_rate, info.channels) == \
        ("wav", "pcm_mulaw", 8000, 2)
    assert abs(info.duration_s - 3.0) < 0.01


def test_mono() -> None:
    data = sf_bytes(left_tone(8000)[:, 0], 8000, "WAV", "ULAW")
    audio = decode(io.BytesIO(data))
    assert len(audio.channels) == 1 and audio.info.channels == 1


def test_silence_is_not_an_error() -> None:
    audio = decode(io.BytesIO(sf_bytes(np.zeros((8000, 2)), 8000, "WAV", "ULAW")))
    assert float(np.abs(audio.channels[0]).max()) < 1e-3


def test_errors_are_precise() -> None:
    with pytest.raises(AudioError, match="empty file"):
        decode(io.BytesIO(b""))
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(io.BytesIO(b"hello world, not audio at all" * 20))
    three = sf_bytes(np.zeros((8000, 3)), 8000, "WAV", "PCM_16")
    with pytest.raises(AudioError, match="3 channels; at most 2"):
        decode(io.BytesIO(three))
    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    with pytest.raises(AudioError, match=r"truncated: header declares 10.0 s"):
        decode(io.BytesIO(wav[: len(wav) // 3]))
    with pytest.raises(AudioError, match="exceeds the limit of 0h00m05s"):
        decode(io.BytesIO(wav), max_duration_s=5)


def test_three_hour_file_rejected_from_the_header_quickly() -> None:
    """A 3-hour 8 kHz mono mu-law WAV header: refused before decoding 3 hours."""
    import time

    n = 3 * 3600 * 8000
    header = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 7, 1, 8000, 8000, 1, 8) + b"data" + struct.pack("<I", n)
    data = header + bytes([0xFF]) * n  # 86 MB of mu-law silence
    t0 = time.perf_counter()
    with pytest.raises(AudioError, match="duration 3h00m00s exceeds the limit of 2h00m00s"):
        decode(io.BytesIO(data), max_duration_s=7200)
    assert time.perf_counter() - t0 < 5


def test_truncated_mp3() -> None:
    mp3 = sf_bytes(left_tone(44100, 10.0), 44100, "MP3", "MPEG_LAYER_III")
    with pytest.raises(AudioError):
        decode(io.BytesIO(mp3[: len(mp3) // 4]))


@pytest.mark.parametrize("head, fmt", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"), (b"RF64\xff\xff\xff\xffWAVEds64", "wav"),
    (b"OggS\x00\x02", "ogg"), (b"fLaC\x00\x00", "flac"), (b"ID3\x04\x00", "mp3"),
    (b"\xff\xfb\x90\x00", "mp3"), (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
    (b"%PDF-1.7", None), (b"PK\x03\x04", None), (b"", None), (b"\xff\xff", None),
    (b"\xff\xff\xff\xff", None),
])
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_validate_counts_without_keeping() -> None:
    from rokuon.engine.audio.decode import validate

    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    info = validate(io.BytesIO(wav))
    assert abs(info.duration_s - 10.0) < 0.01 and info.channels == 2
    with pytest.raises(AudioError, match="truncated"):
        validate(io.BytesIO(wav[: len(wav) // 3]))
    with pytest.raises(AudioError, match="exceeds the limit"):
        validate(io.BytesIO(wav), max_duration_s=5)
