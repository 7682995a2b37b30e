"""Serving a WAV by byte range without decoding it whole: the layout parser and the
per-range PCM16 conversion agree with libsndfile's decoding of the same file."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from rokuon.engine.audio.playback import iter_range, plan
from rokuon.engine.audio.wav_layout import PCM16_HEADER_SIZE, pcm16_range, read_layout
from tests.helpers import tone_wav

SUBTYPES = {"PCM_U8": "pcm_u8", "PCM_16": "pcm_s16le", "PCM_24": "pcm_s24le",
            "PCM_32": "pcm_s32le", "FLOAT": "pcm_f32le", "DOUBLE": "pcm_f64le",
            "ALAW": "pcm_alaw", "ULAW": "pcm_mulaw"}


def _rendition(data: bytes) -> bytes:
    layout = read_layout(io.BytesIO(data), len(data))
    assert layout is not None
    return pcm16_range(io.BytesIO(data), layout, 0, layout.pcm16_size - 1)


@pytest.mark.parametrize("subtype", sorted(SUBTYPES))
@pytest.mark.parametrize("fmt", ["WAV", "WAVEX"])
def test_every_pcm_family_codec_converts_like_libsndfile(subtype: str, fmt: str) -> None:
    t = np.arange(4000) / 8000
    x = np.stack([0.6 * np.sin(2 * np.pi * 300 * t), -0.4 * np.cos(2 * np.pi * 170 * t)], 1)
    buf = io.BytesIO()
    sf.write(buf, x, 8000, format=fmt, subtype=subtype)
    data = buf.getvalue()
    layout = read_layout(io.BytesIO(data), len(data))
    assert layout is not None and layout.codec == SUBTYPES[subtype]
    assert layout.frames == 4000 and layout.channels == 2 and layout.extensible == (fmt == "WAVEX")
    out = _rendition(data)
    assert len(out) == layout.pcm16_size
    got, rate = sf.read(io.BytesIO(out), dtype="int16")
    if subtype in ("FLOAT", "DOUBLE"):  # libsndfile does not scale float to int16
        f, _ = sf.read(io.BytesIO(data), dtype="float64")
        want = np.clip(np.rint(f * 32768), -32768, 32767)
    else:
        want, _ = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 8000 and got.shape == want.shape
    assert np.array_equal(got.astype(int), want.astype(int))


def test_any_range_equals_the_same_slice_of_the_whole() -> None:
    data = tone_wav(2.0, seed=5)  # μ-law stereo
    layout = read_layout(io.BytesIO(data), len(data))
    assert layout is not None
    whole = _rendition(data)
    rng = np.random.default_rng(1)
    cuts = [(0, 0), (0, 43), (43, 44), (44, 45), (45, 46), (1, 3), (len(whole) - 3,
            len(whole) - 1)] + [tuple(sorted(rng.integers(0, len(whole), 2))) for _ in range(40)]
    for a, b in cuts:
        assert pcm16_range(io.BytesIO(data), layout, int(a), int(b)) == whole[a:b + 1], (a, b)
    pieces = list(iter_range(io.BytesIO(data), plan(io.BytesIO(data), len(data), "pcm_mulaw"),
                             0, len(whole) - 1, block=1000))
    assert max(len(p) for p in pieces) <= 1000 and b"".join(pieces) == whole


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def test_streamed_truncated_and_odd_files() -> None:
    data = bytearray(tone_wav(1.0, seed=6, channels=1))
    layout = read_layout(io.BytesIO(bytes(data)), len(data))
    assert layout is not None and layout.frames == 8000
    streamed = bytearray(data)
    streamed[layout.data_offset - 4:layout.data_offset] = b"\xff\xff\xff\xff"
    s = read_layout(io.BytesIO(bytes(streamed)), len(streamed))
    assert s is not None and s.frames == 8000  # size from the file, not the header
    cut = bytes(data[:layout.data_offset + 1001])
    c = read_layout(io.BytesIO(cut), len(cut))
    assert c is not None and c.frames == 1001
    # a chunk before the data (LIST) is skipped; an odd-sized chunk is padded
    fmt_body = data[20:20 + 16]
    body = data[layout.data_offset:]
    extra = b"RIFF\0\0\0\0WAVE" + _chunk(b"fmt ", bytes(fmt_body)) + _chunk(b"LIST", b"abc") \
        + _chunk(b"data", bytes(body))
    e = read_layout(io.BytesIO(extra), len(extra))
    assert e is not None and e.frames == 8000 and e.codec == "pcm_mulaw"
    # what is not served by range: not a WAV, no fmt before data, ADPCM, endless chunks
    assert read_layout(io.BytesIO(b"OggS" + bytes(100)), 104) is None
    nofmt = b"RIFF\0\0\0\0WAVE" + _chunk(b"data", bytes(body))
    assert read_layout(io.BytesIO(nofmt), len(nofmt)) is None
    adpcm = tone_wav(1.0, subtype="IMA_ADPCM")
    assert read_layout(io.BytesIO(adpcm), len(adpcm)) is None
    junk = b"RIFF\0\0\0\0WAVE" + _chunk(b"JUNK", b"") * 200
    assert read_layout(io.BytesIO(junk), len(junk)) is None


def test_plan_serves_what_browsers_play_as_stored() -> None:
    def p(data: bytes, codec: str | None = None):  # type: ignore[no-untyped-def]
        return plan(io.BytesIO(data), len(data), codec)

    pcm16 = tone_wav(1.0, subtype="PCM_16")
    assert (p(pcm16).kind, p(pcm16).size, p(pcm16).media_type) == ("direct", len(pcm16),
                                                                    "audio/wav")
    ulaw = tone_wav(1.0)
    assert p(ulaw).kind == "pcm_wav" and p(ulaw).size == PCM16_HEADER_SIZE + 8000 * 2 * 2
    buf = io.BytesIO()
    sf.write(buf, np.zeros((800, 2)), 8000, format="FLAC")
    flac = buf.getvalue()
    assert (p(flac, "flac").kind, p(flac).media_type, p(flac).extension) == \
        ("direct", "audio/flac", "flac")
    assert p(tone_wav(1.0, subtype="IMA_ADPCM")).kind == "transcode"
    buf = io.BytesIO()
    sf.write(buf, np.zeros((800, 1)), 8000, format="OGG", subtype="VORBIS")
    ogg = buf.getvalue()
    assert p(ogg, "vorbis").kind == "direct" and p(ogg, "speex").kind == "transcode"
    assert p(b"not audio at all").kind == "transcode"
