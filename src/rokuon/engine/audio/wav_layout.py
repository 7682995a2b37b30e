"""Where the samples of a WAV file are, and how to turn any slice of them into PCM16.

Used to serve telephony WAVs (G.711 μ-law/A-law, 8/24/32-bit, float) to the browser as
a PCM16 WAV *by byte range*, without decoding the whole file: every PCM-family codec
maps sample n to a fixed byte offset, so output bytes [a, b] come from input frames
[a', b'] alone. No FFmpeg is involved — the header is read here and the samples are
converted with numpy — so playback never runs a media decoder in the server.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

import numpy as np

MAX_CHUNKS = 64  # a WAV with more chunks before its data is not one we serve this way
PCM16_HEADER_SIZE = 44

# format tag → (codec name, allowed bits per sample)
_TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "mulaw"}
_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class WavLayout:
    codec: str  # pcm_u8 | pcm_s16le | pcm_s24le | pcm_s32le | pcm_f32le | pcm_f64le | pcm_alaw…
    channels: int
    sample_rate: int
    block_align: int  # bytes per frame (all channels)
    data_offset: int
    frames: int
    extensible: bool

    @property
    def pcm16_size(self) -> int:
        """Size of the PCM16 WAV rendition (header included)."""
        return PCM16_HEADER_SIZE + self.frames * self.channels * 2

    @property
    def is_plain_pcm16(self) -> bool:
        """A plain PCM16 WAV every browser plays as it is."""
        return self.codec == "pcm_s16le" and not self.extensible


def _codec(tag: int, bits: int) -> str | None:
    kind = _TAGS.get(tag)
    if kind == "pcm":
        return {8: "pcm_u8", 16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}.get(bits)
    if kind == "float":
        return {32: "pcm_f32le", 64: "pcm_f64le"}.get(bits)
    if kind in ("alaw", "mulaw") and bits == 8:
        return f"pcm_{kind}"
    return None


def read_layout(src: BinaryIO, size: int) -> WavLayout | None:
    """The layout of a RIFF/RF64 WAVE file with a PCM-family codec, or None when it is
    anything else (or too odd to serve by byte range: then it is transcoded)."""
    src.seek(0)
    head = src.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    rf64_data_size: int | None = None
    fmt: tuple[int, int, int, int, int, bool] | None = None
    pos = 12
    for _ in range(MAX_CHUNKS):
        src.seek(pos)
        hdr = src.read(8)
        if len(hdr) < 8:
            return None
        cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        body = pos + 8
        if cid == b"ds64":
            ds = src.read(16)
            if len(ds) == 16:
                rf64_data_size = struct.unpack("<Q", ds[8:16])[0]
        elif cid == b"fmt ":
            raw = src.read(min(clen, 40))
            if len(raw) < 16:
                return None
            tag, ch, rate, _, align, bits = struct.unpack("<HHIIHH", raw[:16])
            extensible = tag == _EXTENSIBLE
            if extensible:
                if len(raw) < 26:
                    return None
                tag = struct.unpack("<H", raw[24:26])[0]  # the sub-format GUID's first field
            fmt = (tag, ch, rate, align, bits, extensible)
        elif cid == b"data":
            if fmt is None:
                return None
            tag, ch, rate, align, bits, extensible = fmt
            codec = _codec(tag, bits)
            if codec is None or not 1 <= ch <= 8 or rate <= 0 or align != ch * bits // 8:
                return None
            length = rf64_data_size if (head[:4] == b"RF64" and rf64_data_size) else clen
            if length in (0, 0xFFFFFFFF) or body + length > size:
                length = size - body  # streamed or truncated: what is there
            return WavLayout(codec, ch, rate, align, body, max(length, 0) // align, extensible)
        pos = body + clen + (clen & 1)
        if pos >= size:
            return None
    return None


def pcm16_header(layout: WavLayout) -> bytes:
    data = layout.frames * layout.channels * 2
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data, b"WAVE", b"fmt ", 16, 1,
                       layout.channels, layout.sample_rate,
                       layout.sample_rate * layout.channels * 2, layout.channels * 2, 16,
                       b"data", data)


@cache
def _g711_table(codec: str) -> np.ndarray:
    """The 256 PCM16 values of a G.711 byte, as libsndfile decodes them."""
    import soundfile as sf

    sub = {"pcm_alaw": "ALAW", "pcm_mulaw": "ULAW"}[codec]
    buf = io.BytesIO()
    # write a file with every code, by writing its header with soundfile and the bytes raw
    with sf.SoundFile(buf, "w", 8000, 1, format="WAV", subtype=sub) as f:
        f.write(np.zeros(256, dtype=np.int16))
    wav = bytearray(buf.getvalue())
    layout = read_layout(io.BytesIO(bytes(wav)), len(wav))
    assert layout is not None and layout.frames == 256
    wav[layout.data_offset:layout.data_offset + 256] = bytes(range(256))
    table, _ = sf.read(io.BytesIO(bytes(wav)), dtype="int16")
    return np.asarray(table, dtype=np.int16)


def to_pcm16(raw: bytes, codec: str) -> np.ndarray:
    """Interleaved PCM16 samples of ``raw`` (whole samples of ``codec``)."""
    if codec == "pcm_s16le":
        return np.frombuffer(raw, dtype="<i2")
    if codec == "pcm_u8":
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if codec == "pcm_s24le":
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(np.int16)
    if codec == "pcm_s32le":
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    if codec in ("pcm_f32le", "pcm_f64le"):
        x = np.frombuffer(raw, dtype="<f4" if codec == "pcm_f32le" else "<f8")
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)
    if codec in ("pcm_alaw", "pcm_mulaw"):
        return _g711_table(codec)[np.frombuffer(raw, dtype=np.uint8)]
    raise ValueError(f"not a PCM-family codec: {codec}")


def pcm16_range(src: BinaryIO, layout: WavLayout, start: int, end: int) -> bytes:
    """Bytes [start, end] (inclusive) of the PCM16 WAV rendition of ``src``."""
    out = bytearray()
    header = pcm16_header(layout)
    if start < PCM16_HEADER_SIZE:
        out += header[start:min(end + 1, PCM16_HEADER_SIZE)]
    lo = max(start, PCM16_HEADER_SIZE) - PCM16_HEADER_SIZE
    hi = end + 1 - PCM16_HEADER_SIZE  # exclusive, in rendition data bytes
    if hi > lo:
        frame_bytes = layout.channels * 2
        f0, f1 = lo // frame_bytes, -(-hi // frame_bytes)
        src.seek(layout.data_offset + f0 * layout.block_align)
        raw = src.read((f1 - f0) * layout.block_align)
        raw = raw[:len(raw) - len(raw) % layout.block_align]
        pcm = to_pcm16(raw, layout.codec).astype("<i2").tobytes()
        pcm = pcm.ljust((f1 - f0) * frame_bytes, b"\0")  # a file shorter than it said
        out += pcm[lo - f0 * frame_bytes:hi - f0 * frame_bytes]
    return bytes(out)
