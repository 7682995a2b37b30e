"""Decoding every supported format from memory; channels kept apart; clear errors."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from rokuon.engine.audio.decode import check_decoded_duration, decode, probe, validate
from rokuon.engine.audio.sniff import MEDIA_TYPES, sniff_format
from rokuon.engine.types import AudioError


def left_tone(sr: int, seconds: float = 2.0) -> np.ndarray:
    """Stereo: a 440 Hz tone on the left (agent) channel, silence on the right."""
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.4 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1)


def sf_bytes(data: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def av_bytes(data: np.ndarray, sr: int, container: str, codec: str) -> bytes:
    """Encode with PyAV (AAC in M4A)."""
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


def wav_header(*, seconds: float, rate: int = 8000, channels: int = 1, fmt_tag: int = 7,
               bits: int = 8) -> bytes:
    """A WAV header (mu-law by default) declaring ``seconds`` of audio."""
    block = channels * bits // 8
    n = int(seconds * rate) * block
    return (b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, fmt_tag, channels, rate, rate * block, block, bits) +
            b"data" + struct.pack("<I", n))


Make = Callable[[], bytes]
CASES: list[tuple[str, str, int, Make]] = [
    ("wav", "pcm_s16le", 16000, lambda: sf_bytes(left_tone(16000), 16000, "WAV", "PCM_16")),
    ("wav", "pcm_mulaw", 8000, lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ULAW")),
    ("wav", "pcm_alaw", 8000, lambda: sf_bytes(left_tone(8000), 8000, "WAV", "ALAW")),
    ("wav", "pcm_s16le", 8000, lambda: sf_bytes(left_tone(8000), 8000, "WAV", "PCM_16")),
    ("wav", "pcm_s16le", 11025, lambda: sf_bytes(left_tone(11025), 11025, "WAV", "PCM_16")),
    ("wav", "pcm_s16le", 22050, lambda: sf_bytes(left_tone(22050), 22050, "WAV", "PCM_16")),
    ("wav", "pcm_s16le", 44100, lambda: sf_bytes(left_tone(44100), 44100, "WAV", "PCM_16")),
    ("wav", "pcm_s16le", 48000, lambda: sf_bytes(left_tone(48000), 48000, "WAV", "PCM_16")),
    ("wav", "pcm_mulaw", 11025, lambda: sf_bytes(left_tone(11025), 11025, "WAV", "ULAW")),
    ("flac", "flac", 44100, lambda: sf_bytes(left_tone(44100), 44100, "FLAC", "PCM_16")),
    ("flac", "flac", 8000, lambda: sf_bytes(left_tone(8000), 8000, "FLAC", "PCM_16")),
    ("mp3", "mp3", 44100, lambda: sf_bytes(left_tone(44100), 44100, "MP3", "MPEG_LAYER_III")),
    ("mp3", "mp3", 8000, lambda: sf_bytes(left_tone(8000), 8000, "MP3", "MPEG_LAYER_III")),
    ("ogg", "opus", 48000, lambda: sf_bytes(left_tone(48000), 48000, "OGG", "OPUS")),
    # FFmpeg decodes Opus at 48 kHz whatever the input rate was
    ("ogg", "opus", 48000, lambda: sf_bytes(left_tone(8000), 8000, "OGG", "OPUS")),
    ("ogg", "vorbis", 22050, lambda: sf_bytes(left_tone(22050), 22050, "OGG", "VORBIS")),
    ("m4a", "aac", 48000, lambda: av_bytes(left_tone(48000), 48000, "mp4", "aac")),
    ("m4a", "aac", 8000, lambda: av_bytes(left_tone(8000), 8000, "mp4", "aac")),
]


@pytest.mark.parametrize("fmt, codec, rate, make", CASES,
                         ids=[f"{c[1]}-{c[2]}" for c in CASES])
def test_formats_decode_with_channels_apart(fmt: str, codec: str, rate: int, make: Make) -> None:
    data = make()
    assert sniff_format(data[:64]) == fmt
    audio = decode(io.BytesIO(data))
    assert audio.info.codec.startswith(codec)
    assert audio.info.sample_rate == rate
    assert audio.info.channels == 2 and len(audio.channels) == 2
    assert audio.sample_rate == 16000
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in audio.channels)
    assert abs(audio.duration_s - 2.0) < 0.2  # AAC adds up to 2 frames of priming/padding
    left, right = (float(np.sqrt(np.mean(c ** 2))) for c in audio.channels)
    assert left > 0.1 and right < 0.01  # the tone stays on the agent's channel
    assert float(np.abs(audio.channels[0]).max()) <= 1.0


def test_probe_reads_the_header() -> None:
    info = probe(io.BytesIO(sf_bytes(left_tone(8000, 3.0), 8000, "WAV", "ULAW")))
    assert (info.container, info.codec, info.sample_rate, info.channels) == \
        ("wav", "pcm_mulaw", 8000, 2)
    assert abs(info.duration_s - 3.0) < 0.01


def test_mono_alaw() -> None:
    data = sf_bytes(left_tone(8000)[:, 0], 8000, "WAV", "ALAW")
    audio = decode(io.BytesIO(data))
    assert len(audio.channels) == 1 and audio.info.channels == 1
    assert len(audio.channels[0]) == 32000


def test_silence_is_not_an_error() -> None:
    audio = decode(io.BytesIO(sf_bytes(np.zeros((8000, 2)), 8000, "WAV", "ULAW")))
    assert float(np.abs(audio.channels[0]).max()) < 1e-3


def test_reads_from_a_real_file_object_with_a_misleading_name(tmp_path: Path) -> None:
    """Only the bytes count: an MP3 named .wav and a WAV named .mp3."""
    mp3 = tmp_path / "call.wav"
    mp3.write_bytes(sf_bytes(left_tone(8000), 8000, "MP3", "MPEG_LAYER_III"))
    wav = tmp_path / "call.mp3"
    wav.write_bytes(sf_bytes(left_tone(8000), 8000, "WAV", "ULAW"))
    for path, fmt, codec in ((mp3, "mp3", "mp3"), (wav, "wav", "pcm_mulaw")):
        with path.open("rb") as fh:
            assert sniff_format(fh.read(64)) == fmt
            assert decode(fh).info.codec.startswith(codec)


def test_empty_and_garbage() -> None:
    with pytest.raises(AudioError, match=r"^empty file \(0 bytes\)$"):
        decode(io.BytesIO(b""))
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(io.BytesIO(b"hello world, not audio at all" * 20))
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(io.BytesIO(np.random.default_rng(1).bytes(50_000)))
    with pytest.raises(AudioError):
        probe(io.BytesIO(b"%PDF-1.7\n" + b"\x00" * 1000))


def test_three_channels_refused() -> None:
    three = sf_bytes(np.zeros((8000, 3)), 8000, "WAV", "PCM_16")
    with pytest.raises(AudioError, match=r"^3 channels; at most 2 supported "
                                         r"\(stereo agent/customer or mono\)$"):
        decode(io.BytesIO(three))
    assert len(decode(io.BytesIO(three), max_channels=3).channels) == 3


@pytest.mark.parametrize("rate", [2000, 3999, 200_000])
def test_sample_rate_out_of_range(rate: int) -> None:
    data = wav_header(seconds=1.0, rate=rate) + b"\xff" * rate
    with pytest.raises(AudioError, match=f"unsupported sample rate {rate} Hz"):
        decode(io.BytesIO(data))


def test_no_audio_stream() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(AudioError, match="^no audio stream in the file$"):
        decode(io.BytesIO(buf.getvalue()))


def test_truncated_wav() -> None:
    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    with pytest.raises(AudioError, match=r"^truncated: header declares 10.0 s, only 3.3 s "
                                         r"decodable$"):
        decode(io.BytesIO(wav[: len(wav) // 3]))


def test_truncated_mp3() -> None:
    mp3 = sf_bytes(left_tone(44100, 10.0), 44100, "MP3", "MPEG_LAYER_III")
    with pytest.raises(AudioError, match="truncated: header declares 10.0 s"):
        decode(io.BytesIO(mp3[: len(mp3) // 4]))


def test_truncated_flac() -> None:
    flac = sf_bytes(left_tone(44100, 10.0), 44100, "FLAC", "PCM_16")
    with pytest.raises(AudioError, match="truncated: header declares 10.0 s"):
        decode(io.BytesIO(flac[: len(flac) // 3]))


def test_a_damaged_last_frame_is_tolerated() -> None:
    flac = sf_bytes(left_tone(8000, 10.0), 8000, "FLAC", "PCM_16")
    audio = decode(io.BytesIO(flac[:-200]))
    assert audio.duration_s > 9.0


def test_too_long_refused_from_the_header() -> None:
    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    with pytest.raises(AudioError, match=r"^duration 0h00m10s exceeds the limit of 0h00m05s$"):
        decode(io.BytesIO(wav), max_duration_s=5)
    assert decode(io.BytesIO(wav), max_duration_s=10).duration_s == pytest.approx(10.0)


def test_three_hour_file_rejected_from_the_header_quickly(tmp_path: Path) -> None:
    """A real 3-hour 8 kHz mono mu-law WAV (sparse on disk): refused before decoding."""
    path = tmp_path / "long.wav"
    header = wav_header(seconds=3 * 3600)
    with path.open("wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + 3 * 3600 * 8000)
    t0 = time.perf_counter()
    with path.open("rb") as fh, pytest.raises(
            AudioError, match=r"^duration 3h00m00s exceeds the limit of 2h00m00s$"):
        decode(fh, max_duration_s=7200)
    with path.open("rb") as fh, pytest.raises(AudioError, match="3h00m00s exceeds"):
        validate(fh, max_duration_s=7200)
    assert time.perf_counter() - t0 < 2
    with path.open("rb") as fh:
        assert probe(fh).duration_s == pytest.approx(10800)


def test_decoded_duration_limit_message() -> None:
    check_decoded_duration(7200.5, 7200)
    with pytest.raises(AudioError, match="exceeds the limit of 2h00m00s"):
        check_decoded_duration(7202, 7200)


def test_validate_counts_without_keeping() -> None:
    wav = sf_bytes(left_tone(8000, 10.0), 8000, "WAV", "ULAW")
    info = validate(io.BytesIO(wav))
    assert abs(info.duration_s - 10.0) < 0.01 and info.channels == 2
    with pytest.raises(AudioError, match="truncated"):
        validate(io.BytesIO(wav[: len(wav) // 3]))
    with pytest.raises(AudioError, match="exceeds the limit"):
        validate(io.BytesIO(wav), max_duration_s=5)


@pytest.mark.parametrize("head, fmt", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"), (b"RF64\xff\xff\xff\xffWAVEds64", "wav"),
    (b"OggS\x00\x02", "ogg"), (b"fLaC\x00\x00", "flac"), (b"ID3\x04\x00", "mp3"),
    (b"\xff\xfb\x90\x00", "mp3"), (b"\xff\xf3\x64\xc4", "mp3"),
    (b"\x00\x00\x00\x20ftypM4A ", "m4a"), (b"\x00\x00\x00\x18ftypmp42", "m4a"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", None), (b"%PDF-1.7", None), (b"PK\x03\x04", None),
    (b"", None), (b"\xff\xff", None), (b"\xff\xff\xff\xff", None),
    (b"\xff\xf1\x50\x80", None),  # ADTS AAC, not MP3
    (b"ftyp", None),
])
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_media_types_cover_every_format() -> None:
    assert set(MEDIA_TYPES) == {"wav", "mp3", "ogg", "flac", "m4a"}
    assert MEDIA_TYPES["wav"] == "audio/wav" and MEDIA_TYPES["mp3"] == "audio/mpeg"
