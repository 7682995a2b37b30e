"""Chunked AES-256-GCM (RKB1): round trips, random access, tamper detection, PyAV."""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
from collections.abc import Callable

import pytest

from rokuon.store.blobcrypt import (
    DEFAULT_CHUNK_SIZE,
    HEADER_SIZE,
    MAGIC,
    TAG_SIZE,
    BlobIntegrityError,
    DecryptingReader,
    EncryptingWriter,
    ciphertext_size,
    new_dek,
    plaintext_size,
)

CS = 1024  # a small chunk size: many chunk boundaries in little data
DCS = DEFAULT_CHUNK_SIZE


def encrypt(data: bytes, dek: bytes, cs: int = CS, piece: int = 333,
            prefix: bytes | None = None) -> bytes:
    out = io.BytesIO()
    w = EncryptingWriter(out, dek, chunk_size=cs, prefix=prefix)
    for i in range(0, len(data), piece):
        w.write(data[i:i + piece])
    w.finish()
    assert w.size == len(data) and w.sha256 == hashlib.sha256(data).hexdigest()
    return out.getvalue()


def reader(blob: bytes, dek: bytes) -> DecryptingReader:
    return DecryptingReader(io.BytesIO(blob), dek, name="calls/t/original")


@pytest.mark.parametrize(("size", "cs"), [
    (0, CS), (1, CS), (CS - 1, CS), (CS, CS), (CS + 1, CS), (2 * CS, CS), (5 * CS + 17, CS),
    (0, DCS), (1, DCS), (DCS - 1, DCS), (DCS, DCS), (DCS + 1, DCS), (3 * 2**20 + 7, DCS),
])
def test_round_trip(size: int, cs: int) -> None:
    dek = new_dek()
    data = os.urandom(size)
    blob = encrypt(data, dek, cs, piece=max(1, cs // 3 + 5))
    assert len(blob) == ciphertext_size(size, cs)
    assert blob[:4] == MAGIC
    with reader(blob, dek) as r:
        assert r.size == r.plaintext_size == size and r.chunk_size == cs
        assert r.readall() == data
        assert r.read() == b"" and r.tell() == size


@pytest.mark.parametrize("piece", [1, 7, CS - 1, CS, CS + 1, 3 * CS, 10**6])
def test_write_pattern_does_not_change_the_blob(piece: int) -> None:
    dek, prefix = new_dek(), b"\x01" * 8
    data = os.urandom(4 * CS)  # a multiple of the chunk size: empty final chunk
    expected = encrypt(data, dek, CS, piece=len(data), prefix=prefix)
    assert encrypt(data, dek, CS, piece=piece, prefix=prefix) == expected
    assert reader(expected, dek).readall() == data


def test_sizes_follow_from_each_other() -> None:
    for cs in (1, 3, CS, DCS):
        for n in list(range(0, 3 * cs + 3)) + [10 * cs - 1, 10 * cs, 10 * cs + 1]:
            assert plaintext_size(ciphertext_size(n, cs), cs) == n
    with pytest.raises(BlobIntegrityError):
        plaintext_size(HEADER_SIZE + TAG_SIZE - 1, CS)
    with pytest.raises(BlobIntegrityError):
        plaintext_size(HEADER_SIZE + CS + TAG_SIZE, CS)  # a full final chunk is impossible


def test_empty_blob_is_authenticated() -> None:
    dek = new_dek()
    blob = encrypt(b"", dek)
    assert len(blob) == HEADER_SIZE + TAG_SIZE
    assert reader(blob, dek).read() == b""
    with pytest.raises(BlobIntegrityError):
        reader(blob[:HEADER_SIZE], dek)
    with pytest.raises(BlobIntegrityError):
        reader(blob[:-1] + bytes([blob[-1] ^ 1]), dek)
    with pytest.raises(BlobIntegrityError):
        reader(blob, new_dek())


def test_plaintext_never_in_ciphertext() -> None:
    marker = b"KNOWN-PLAINTEXT-MARKER-"
    data = marker * 5000
    blob = encrypt(data, new_dek(), DCS)
    assert marker not in blob
    assert marker[:8] not in blob


# -- random access ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> tuple[bytes, bytes, bytes]:
    dek = new_dek()
    data = os.urandom(9 * CS + 123)
    return data, dek, encrypt(data, dek)


def test_random_access_matches_plaintext(sample: tuple[bytes, bytes, bytes]) -> None:
    data, dek, blob = sample
    r = reader(blob, dek)
    rng = random.Random(1234)
    for _ in range(2000):
        off = rng.randrange(0, len(data) + 50)
        n = rng.choice([0, 1, 2, 15, rng.randrange(0, 4 * CS)])
        assert r.seek(off) == off
        got = r.read(n)
        assert got == data[off:off + n]
        assert r.tell() == off + len(got)


def test_reads_across_every_chunk_boundary(sample: tuple[bytes, bytes, bytes]) -> None:
    data, dek, blob = sample
    r = reader(blob, dek)
    for k in range(1, len(data) // CS + 1):
        b = k * CS
        for off in (b - 2, b - 1, b, b + 1):
            for n in (1, 2, 3, CS - 1, CS, CS + 1, 2 * CS + 5):
                r.seek(off)
                assert r.read(n) == data[off:off + n], (off, n)


def test_seek_whence_and_bounds(sample: tuple[bytes, bytes, bytes]) -> None:
    data, dek, blob = sample
    r = reader(blob, dek)
    assert r.seekable() and r.readable() and not r.writable()
    assert r.seek(-10, io.SEEK_END) == len(data) - 10
    assert r.read() == data[-10:] and r.tell() == len(data)
    r.seek(CS + 5)
    assert r.seek(100, io.SEEK_CUR) == CS + 105
    assert r.read(7) == data[CS + 105:CS + 112]
    assert r.seek(-7, io.SEEK_CUR) == CS + 105
    assert r.seek(len(data) + 1000) == len(data) + 1000  # past the end: reads nothing
    assert r.read(10) == b"" and r.read() == b""
    with pytest.raises(ValueError):
        r.seek(-1)
    with pytest.raises(ValueError):
        r.seek(0, 7)
    r.seek(3 * CS - 1)
    assert r.readall() == data[3 * CS - 1:]


def test_readinto_and_buffered_wrapping(sample: tuple[bytes, bytes, bytes]) -> None:
    data, dek, blob = sample
    r = reader(blob, dek)
    buf = bytearray(5 * CS)
    r.seek(CS)  # chunk-aligned, whole chunks: decrypted straight into the caller's buffer
    assert r.readinto(buf) == 5 * CS and bytes(buf) == data[CS:6 * CS]
    view = memoryview(bytearray(100))
    r.seek(len(data) - 40)
    assert r.readinto(view) == 40 and bytes(view[:40]) == data[-40:]
    b = io.BufferedReader(reader(blob, dek), buffer_size=700)
    b.seek(2 * CS - 3)
    assert b.read(10) == data[2 * CS - 3:2 * CS + 7]
    assert b.read() == data[2 * CS + 7:]


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []  # offsets of the ciphertext reads

    def readinto(self, b):  # type: ignore[no-untyped-def, override]
        self.reads.append(self.tell())
        return super().readinto(b)


def test_only_needed_chunks_are_decrypted(sample: tuple[bytes, bytes, bytes]) -> None:
    data, dek, blob = sample
    src = CountingFile(blob)
    r = DecryptingReader(src, dek)
    last = HEADER_SIZE + (len(data) // CS) * (CS + TAG_SIZE)
    assert src.reads == [last]  # the final chunk is checked on open
    r.seek(3 * CS + 10)
    assert r.read(20) == data[3 * CS + 10:3 * CS + 30]
    assert r.read(20) == data[3 * CS + 30:3 * CS + 50]  # same chunk: cached
    assert src.reads == [last, HEADER_SIZE + 3 * (CS + TAG_SIZE)]


def test_closed_reader(sample: tuple[bytes, bytes, bytes]) -> None:
    _, dek, blob = sample
    src = io.BytesIO(blob)
    r = DecryptingReader(src, dek)
    r.read(10)
    r.close()
    assert r.closed and src.closed
    for op in (lambda: r.read(1), lambda: r.seek(0), r.tell, lambda: r.readinto(bytearray(1))):
        with pytest.raises(ValueError):
            op()


# -- tampering ------------------------------------------------------------------------------

C = CS + TAG_SIZE  # one encrypted chunk on disk
N_FULL = 5  # the tampered sample: 5 full chunks and a final one of 10 bytes


def chunk_at(i: int) -> slice:
    return slice(HEADER_SIZE + i * C, HEADER_SIZE + (i + 1) * C)


def _flip(b: bytearray, i: int) -> None:
    b[i] ^= 0x01


TAMPER: dict[str, Callable[[bytearray, bytes], None]] = {
    "flip a byte in chunk 0": lambda b, o: _flip(b, HEADER_SIZE + 5),
    "flip a byte in chunk 3": lambda b, o: _flip(b, HEADER_SIZE + 3 * C + 100),
    "flip a tag byte": lambda b, o: _flip(b, HEADER_SIZE + C - 1),
    "flip a byte in the final chunk": lambda b, o: _flip(b, len(b) - TAG_SIZE - 1),
    "truncate by one byte": lambda b, o: b.__delitem__(slice(-1, None)),
    "truncate by a tag": lambda b, o: b.__delitem__(slice(-TAG_SIZE, None)),
    "truncate to the header": lambda b, o: b.__delitem__(slice(HEADER_SIZE, None)),
    "truncate mid-chunk": lambda b, o: b.__delitem__(slice(HEADER_SIZE + 2 * C + 7, None)),
    "drop the final chunk": lambda b, o: b.__delitem__(slice(HEADER_SIZE + N_FULL * C, None)),
    "drop a middle chunk": lambda b, o: b.__delitem__(chunk_at(2)),
    "swap two chunks": lambda b, o: b.__setitem__(
        slice(HEADER_SIZE, HEADER_SIZE + 2 * C), o[chunk_at(1)] + o[chunk_at(0)]),
    "duplicate a chunk": lambda b, o: b.__setitem__(chunk_at(1), o[chunk_at(0)]),
    "append garbage": lambda b, o: b.extend(os.urandom(40)),
    "append one byte": lambda b, o: b.extend(b"\0"),
    "append a whole chunk": lambda b, o: b.extend(os.urandom(C)),
    "append a copy of the final chunk": lambda b, o: b.extend(o[HEADER_SIZE + N_FULL * C:]),
    "change the magic": lambda b, o: b.__setitem__(slice(0, 4), b"RKB2"),
    "change the version": lambda b, o: b.__setitem__(4, 2),
    "change a reserved byte": lambda b, o: b.__setitem__(6, 1),
    "change the chunk size": lambda b, o: b.__setitem__(slice(8, 12), struct.pack(">I", CS + 1)),
    "change the nonce prefix": lambda b, o: _flip(b, 15),
    "empty file": lambda b, o: b.clear(),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_tampering_is_detected(how: str) -> None:
    dek = new_dek()
    data = os.urandom(N_FULL * CS + 10)
    original = encrypt(data, dek)
    blob = bytearray(original)
    TAMPER[how](blob, original)
    assert bytes(blob) != original
    with pytest.raises(BlobIntegrityError, match="calls/t/original"):
        reader(bytes(blob), dek).readall()


@pytest.mark.parametrize("how", ["truncate by one byte", "drop the final chunk",
                                 "append garbage", "flip a byte in the final chunk"])
def test_truncation_is_detected_on_open(how: str) -> None:
    dek = new_dek()
    original = encrypt(os.urandom(N_FULL * CS + 10), dek)
    blob = bytearray(original)
    TAMPER[how](blob, original)
    with pytest.raises(BlobIntegrityError):
        reader(bytes(blob), dek)  # before any read


def test_wrong_dek_and_other_blob() -> None:
    dek = new_dek()
    data = os.urandom(3 * CS)
    blob = encrypt(data, dek)
    with pytest.raises(BlobIntegrityError, match="failed authentication"):
        reader(blob, new_dek())
    other = encrypt(data, dek)  # same key and plaintext, another blob (other prefix)
    assert other[HEADER_SIZE:] != blob[HEADER_SIZE:]
    mixed = bytearray(blob)
    mixed[chunk_at(1)] = other[chunk_at(1)]
    with pytest.raises(BlobIntegrityError, match="chunk 1"):
        reader(bytes(mixed), dek).readall()


def test_unauthenticated_plaintext_is_not_returned() -> None:
    dek = new_dek()
    data = os.urandom(4 * CS + 1)
    blob = bytearray(encrypt(data, dek))
    _flip(blob, HEADER_SIZE + 2 * C + 3)
    r = reader(bytes(blob), dek)
    assert r.read(2 * CS) == data[:2 * CS]
    buf = bytearray(CS)
    with pytest.raises(BlobIntegrityError):
        r.readinto(buf)  # aligned whole chunk: would be decrypted into buf directly
    assert buf == bytearray(CS)
    with pytest.raises(BlobIntegrityError):
        r.read(1)


def test_not_a_blob() -> None:
    with pytest.raises(BlobIntegrityError, match="not an encrypted rokuon blob"):
        reader(b"RIFF1234WAVE" * 10, new_dek())
    with pytest.raises(BlobIntegrityError, match="short header"):
        reader(b"RKB1", new_dek())


# -- the writer -----------------------------------------------------------------------------

def test_writer_lifecycle() -> None:
    out = io.BytesIO()
    w = EncryptingWriter(out, new_dek(), chunk_size=CS)
    assert len(out.getvalue()) == HEADER_SIZE and len(w.blob_id) == 8
    w.write(b"a" * CS)
    assert len(out.getvalue()) == HEADER_SIZE  # a full chunk waits: it may be the last
    w.write(memoryview(b"b"))
    assert len(out.getvalue()) == HEADER_SIZE + C
    w.close()
    w.finish()  # idempotent
    assert len(out.getvalue()) == ciphertext_size(CS + 1, CS)
    with pytest.raises(ValueError):
        w.write(b"x")


def test_writer_aborted_by_an_exception_leaves_an_invalid_blob() -> None:
    dek = new_dek()
    out = io.BytesIO()
    with pytest.raises(RuntimeError), EncryptingWriter(out, dek, chunk_size=CS) as w:
        w.write(os.urandom(3 * CS + 5))
        raise RuntimeError("upload interrupted")
    with pytest.raises(BlobIntegrityError):
        reader(out.getvalue(), dek).readall()
    with pytest.raises(ValueError):
        w.finish()


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        EncryptingWriter(io.BytesIO(), b"short")
    with pytest.raises(ValueError):
        EncryptingWriter(io.BytesIO(), new_dek(), chunk_size=0)
    with pytest.raises(ValueError):
        EncryptingWriter(io.BytesIO(), new_dek(), prefix=b"123")
    with pytest.raises(ValueError):
        DecryptingReader(io.BytesIO(encrypt(b"x", new_dek())), b"short")


def test_deks_are_random() -> None:
    assert len({new_dek() for _ in range(100)}) == 100


# -- PyAV reads audio straight from the reader ----------------------------------------------

def _m4a(seconds: float = 2.0, sr: int = 16000) -> bytes:
    av = pytest.importorskip("av")
    np = pytest.importorskip("numpy")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        stream = c.add_stream("aac", rate=sr, layout="mono")
        x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(sr * seconds)) / sr)).astype("float32")
        for i in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[None, i:i + 1024], format="fltp", layout="mono")
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    return buf.getvalue()


def _decode(src: object) -> bytes:
    import av

    with av.open(src, "r") as c:
        return b"".join(bytes(f.to_ndarray().tobytes()) for f in c.decode(audio=0))


def test_pyav_decodes_through_the_reader() -> None:
    data = _m4a()
    assert data.rfind(b"moov") > len(data) // 2  # index at the end: the demuxer must seek
    dek = new_dek()
    with reader(encrypt(data, dek, cs=1000), dek) as r:
        assert _decode(r) == _decode(io.BytesIO(data))
