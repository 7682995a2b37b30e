"""Chunked AES-GCM: round trips, random access, tamper detection."""

from __future__ import annotations

import io
import os
import random
import secrets

import pytest

from rokuon.store.blobcrypt import (
    HEADER,
    TAG,
    BlobIntegrityError,
    DecryptingReader,
    EncryptingWriter,
)

CS = 1024


def encrypt(data: bytes, dek: bytes, cs: int = CS) -> bytes:
    out = io.BytesIO()
    w = EncryptingWriter(out, dek, chunk_size=cs)
    for i in range(0, len(data), 333):
        w.write(data[i:i + 333])
    w.finish()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CS - 1, CS, CS + 1, 5 * CS, 5 * CS + 17])
def test_round_trip(size: int) -> None:
    dek = secrets.token_bytes(32)
    data = os.urandom(size)
    blob = encrypt(data, dek)
    r = DecryptingReader(io.BytesIO(blob), dek)
    assert r.plaintext_size == size and r.readall() == data
    assert data[:16] not in blob[HEADER.size:] or size < 16


def test_random_access() -> None:
    dek = secrets.token_bytes(32)
    data = os.urandom(7 * CS + 100)
    r = DecryptingReader(io.BytesIO(encrypt(data, dek)), dek)
    rng = random.Random(1)
    for _ in range(200):
        off = rng.randrange(0, len(data) + 10)
        n = rng.randrange(0, 3 * CS)
        r.seek(off)
        assert r.read(n) == data[off:off + n]
    r.seek(-10, io.SEEK_END)
    assert r.read() == data[-10:] and r.tell() == len(data)


def _tampered(blob: bytes, how: str) -> bytes:
    body = HEADER.size
    c = CS + TAG
    b = bytearray(blob)
    if how == "flip":
        b[body + 5] ^= 1
    elif how == "truncate":
        del b[-7:]
    elif how == "drop_last":
        del b[body + 3 * c:]
    elif how == "swap":
        first, second = bytes(b[body:body + c]), bytes(b[body + c:body + 2 * c])
        b[body:body + 2 * c] = second + first
    elif how == "append":
        b += os.urandom(40)
    elif how == "header":
        b[6] ^= 1
    return bytes(b)


@pytest.mark.parametrize("how", ["flip", "truncate", "drop_last", "swap", "append", "header"])
def test_tampering_is_detected(how: str) -> None:
    dek = secrets.token_bytes(32)
    data = os.urandom(5 * CS + 10)
    blob = _tampered(encrypt(data, dek), how)
    with pytest.raises(BlobIntegrityError):
        DecryptingReader(io.BytesIO(blob), dek).readall()


def test_wrong_key() -> None:
    blob = encrypt(b"secret audio", secrets.token_bytes(32))
    with pytest.raises(BlobIntegrityError):
        DecryptingReader(io.BytesIO(blob), secrets.token_bytes(32))


def test_not_a_blob() -> None:
    with pytest.raises(BlobIntegrityError, match="not an encrypted rokuon blob"):
        DecryptingReader(io.BytesIO(b"RIFF1234WAVE" * 10), secrets.token_bytes(32))
