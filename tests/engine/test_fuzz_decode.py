"""Fuzzing the sandboxed decoder: small valid recordings of every supported format
(generated here with PyAV), with headers and bodies mutated, go through the ingest
check (``validate``) and, when that accepts them, the full decode. Each must give a
sane result or an AudioError: never another exception, never a wait beyond the wall
limit, and this process lives on.

The normal run tries FUZZ_EXAMPLES fixed cases (derandomized); a long campaign:
``ROKUON_FUZZ_EXAMPLES=20000 pytest tests/engine/test_fuzz_decode.py`` or
``python scripts/fuzz_decode.py --examples 20000`` (prints the outcomes)."""

from __future__ import annotations

import io
import os
import struct
import time
from collections import Counter
from functools import cache

import av
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rokuon.engine.audio import sandbox
from rokuon.engine.types import AudioError, DecodedAudio

FUZZ_EXAMPLES = int(os.environ.get("ROKUON_FUZZ_EXAMPLES", "300"))
MAX_DURATION_S = 60.0
LIMITS = sandbox.Limits(cpu_s=5, cpu_s_per_audio_min=3, memory_mb=256, wall_s=15,
                        wall_s_per_audio_min=5, max_audio_s=MAX_DURATION_S)
HANG_MARGIN_S = 10.0  # process start and teardown on a busy machine
OUTCOMES: Counter[str] = Counter()  # outcome → cases (read by scripts/fuzz_decode.py)

# (name, container format, codec, sample rate, channels, extra muxer options)
SEED_SPECS = [
    ("wav-pcm16", "wav", "pcm_s16le", 8000, 2),
    ("wav-mulaw", "wav", "pcm_mulaw", 8000, 1),
    ("wav-extensible", "wav", "pcm_s24le", 8000, 2),  # > 16 bits: WAVE_FORMAT_EXTENSIBLE
    ("mp3", "mp3", "libmp3lame", 8000, 1),
    ("ogg-opus", "ogg", "libopus", 48000, 1),
    ("flac", "flac", "flac", 8000, 2),
    ("m4a-aac", "ipod", "aac", 8000, 1),
]


def encode(container: str, codec: str, rate: int, channels: int, seconds: float = 0.4) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame_size = stream.codec_context.frame_size or 1024
        planes = np.stack([tone] * channels)
        for i in range(0, planes.shape[1], frame_size):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes[:, i:i + frame_size]),
                                               format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@cache
def seeds() -> dict[str, bytes]:
    return {name: encode(*spec) for name, *spec in SEED_SPECS}


# ---- mutations ------------------------------------------------------------------------

INTERESTING_32 = [0, 1, 2, 7, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                  0xFFFF_FFFE, 0xFFFF_FFFF, 44100, 8000, 192_001, 3]
INTERESTING_16 = [0, 1, 2, 3, 6, 7, 8, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 64]

# past the magic bytes into the header, or anywhere
position = st.one_of(st.integers(12, 96), st.integers(0, 1 << 20))
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("set"), position, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("u32"), position, st.sampled_from(INTERESTING_32)),
    st.tuples(st.just("u16"), position, st.sampled_from(INTERESTING_16)),
    st.tuples(st.just("truncate"), position, st.just(0)),
    st.tuples(st.just("delete"), position, st.integers(1, 512)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("repeat"), position, st.integers(1, 4096)),
)
cases = st.tuples(st.sampled_from([name for name, *_ in SEED_SPECS]),
                  st.lists(mutation, min_size=1, max_size=4))


def mutate(data: bytes, ops: list[tuple[str, int, object]]) -> bytes:
    b = bytearray(data)
    for op, pos, arg in ops:
        pos = pos % (len(b) + 1)
        if op == "flip" and pos < len(b):
            b[pos] ^= int(arg)  # type: ignore[call-overload]
        elif op == "set":
            b[pos:pos + len(arg)] = arg  # type: ignore[arg-type]
        elif op == "u32":
            b[pos:pos + 4] = struct.pack("<I", arg)
        elif op == "u16":
            b[pos:pos + 2] = struct.pack("<H", arg)
        elif op == "truncate":
            del b[pos:]
        elif op == "delete":
            del b[pos:pos + int(arg)]  # type: ignore[call-overload]
        elif op == "insert":
            b[pos:pos] = arg  # type: ignore[index]
        elif op == "repeat":  # a chunk of the body once more (frames, pages, boxes)
            b[pos:pos] = b[pos:pos + int(arg)]  # type: ignore[call-overload]
    return bytes(b)


def outcome_of(exc: AudioError) -> str:
    """A category for the tally: the message up to its first number or colon."""
    words = []
    for w in str(exc).split():
        if any(c.isdigit() for c in w) or w.endswith(":"):
            words.append(w.rstrip(":") if not any(c.isdigit() for c in w) else "N")
            break
        words.append(w)
    return "AudioError: " + " ".join(words)


def check_decoded(audio: DecodedAudio) -> None:
    assert 1 <= len(audio.channels) <= 2 and len(audio.channels) == audio.info.channels
    n = len(audio.channels[0])
    for ch in audio.channels:
        assert ch.ndim == 1 and ch.dtype == np.float32 and len(ch) == n
    assert n <= (MAX_DURATION_S + 2) * audio.sample_rate


def run_case(data: bytes) -> str:
    """The sandboxed ingest check, then (if accepted) the full decode; the outcome."""
    pid = os.getpid()
    start = time.monotonic()
    try:
        info = sandbox.validate(io.BytesIO(data), LIMITS, max_duration_s=MAX_DURATION_S)
        assert 1 <= info.channels <= 2 and info.duration_s <= MAX_DURATION_S + 1
        check_decoded(sandbox.decode(io.BytesIO(data), LIMITS, max_duration_s=MAX_DURATION_S))
        result = "decoded"
    except AudioError as exc:
        result = outcome_of(exc)
    elapsed = time.monotonic() - start
    assert elapsed < 2 * (LIMITS.wall_for(MAX_DURATION_S) + HANG_MARGIN_S), elapsed
    assert os.getpid() == pid
    OUTCOMES[result] += 1
    return result


def test_seeds_are_valid_and_decode() -> None:
    for name, data in seeds().items():
        assert len(data) < 20_000, name
        assert run_case(data) == "decoded", name
    assert seeds()["wav-extensible"][20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE


@settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases)
def test_mutated_recordings_decode_or_fail_cleanly(case: tuple[str, list]) -> None:  # type: ignore[type-arg]
    name, ops = case
    run_case(mutate(seeds()[name], ops))


def test_found_by_fuzzing_unknown_codec_and_bad_metadata() -> None:
    """Raised AttributeError / UnicodeDecodeError from inside PyAV before."""
    wav = bytearray(seeds()["wav-pcm16"])
    wav[20:22] = struct.pack("<H", 0x1234)  # a format tag no decoder knows
    assert run_case(bytes(wav)) == "AudioError: unsupported audio codec (no decoder for it)"
    flac = seeds()["flac"]
    at = flac.index(b"encoder=") + 8  # a Vorbis comment value, now not UTF-8
    assert run_case(flac[:at] + b"\xff\xfe" + flac[at + 2:]) == "decoded"
