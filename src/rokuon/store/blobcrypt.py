"""Chunked AES-256-GCM stream encryption for recordings.

Layout of an encrypted blob::

    header (20 bytes): b"RKB1" | version u8 | 3 zero bytes | chunk size u32 | nonce prefix 8
    chunk 0 … chunk n-1: AES-GCM(plaintext chunk) + 16-byte tag
    every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds
    0 … chunk size - 1 bytes (an empty last chunk is written when needed)

Nonce = prefix | chunk index (u32). Associated data = header | index | final flag, so a
changed, dropped, reordered, truncated or appended chunk fails authentication. Random
access is possible because chunk boundaries are fixed.
"""

from __future__ import annotations

import hashlib
import io
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"RKB1"
VERSION = 1
HEADER = struct.Struct(">4sB3xI8s")
TAG = 16
DEFAULT_CHUNK = 64 * 1024


class BlobIntegrityError(Exception):
    """The encrypted blob was changed, truncated or does not belong to this key."""


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if final else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


class EncryptingWriter:
    """Encrypts what is written into ``out``; ``finish()`` writes the last chunk."""

    def __init__(self, out: BinaryIO, dek: bytes, *, chunk_size: int = DEFAULT_CHUNK,
                 prefix: bytes | None = None) -> None:
        import secrets

        self._out = out
        self._aes = AESGCM(dek)
        self._cs = chunk_size
        self._prefix = prefix or secrets.token_bytes(8)
        self._header = HEADER.pack(MAGIC, VERSION, chunk_size, self._prefix)
        self._buf = bytearray()
        self._index = 0
        self._hash = hashlib.sha256()
        self.size = 0
        self.finished = False
        out.write(self._header)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _emit(self, data: bytes, final: bool) -> None:
        ct = self._aes.encrypt(_nonce(self._prefix, self._index), data,
                               _aad(self._header, self._index, final))
        self._out.write(ct)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        self._buf += data
        while len(self._buf) > self._cs:  # keep at least one byte for the final chunk rule
            self._emit(bytes(self._buf[: self._cs]), False)
            del self._buf[: self._cs]
        return len(data)

    def finish(self) -> None:
        if self.finished:
            return
        if len(self._buf) == self._cs:
            self._emit(bytes(self._buf), False)
            self._buf.clear()
        self._emit(bytes(self._buf), True)
        self._buf.clear()
        self.finished = True


class DecryptingReader(io.RawIOBase):
    """A readable, seekable view of the plaintext of an encrypted blob."""

    def __init__(self, src: BinaryIO, dek: bytes, *, name: str = "blob") -> None:
        super().__init__()
        self._src = src
        self._name = name
        self._aes = AESGCM(dek)
        header = src.read(HEADER.size)
        try:
            magic, version, cs, prefix = HEADER.unpack(header)
        except struct.error as exc:
            raise BlobIntegrityError(f"{name}: not an encrypted rokuon blob (short header)") \
                from exc
        if magic != MAGIC or version != VERSION or cs <= 0:
            raise BlobIntegrityError(f"{name}: not an encrypted rokuon blob (bad header)")
        self._header, self._cs, self._prefix = header, cs, prefix
        body = src.seek(0, io.SEEK_END) - HEADER.size
        if body < TAG:
            raise BlobIntegrityError(f"{name}: truncated (no final chunk)")
        self._full = (body - TAG) // (cs + TAG)
        last_len = body - self._full * (cs + TAG) - TAG
        if last_len >= cs:
            raise BlobIntegrityError(f"{name}: truncated or extended (bad size)")
        self._size = self._full * cs + last_len
        self._pos = 0
        self._cache_index = -1
        self._cache = b""
        self._chunk(self._full)  # authenticates the final chunk: detects truncation early

    @property
    def plaintext_size(self) -> int:
        return self._size

    def _chunk(self, index: int) -> bytes:
        if index == self._cache_index:
            return self._cache
        final = index == self._full
        length = (self._size - self._full * self._cs if final else self._cs) + TAG
        self._src.seek(HEADER.size + index * (self._cs + TAG))
        ct = self._src.read(length)
        try:
            pt = self._aes.decrypt(_nonce(self._prefix, index), ct,
                                   _aad(self._header, index, final))
        except InvalidTag as exc:
            raise BlobIntegrityError(f"{self._name}: chunk {index} failed authentication "
                                     "(changed, reordered, truncated or wrong key)") from exc
        self._cache_index, self._cache = index, pt
        return pt

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        pos = base + offset
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        n = 0
        while n < len(view) and self._pos < self._size:
            index = self._pos // self._cs
            chunk = self._chunk(index)
            off = self._pos - index * self._cs
            take = min(len(view) - n, len(chunk) - off)
            view[n:n + take] = chunk[off:off + take]
            n += take
            self._pos += take
        return n

    def readall(self) -> bytes:
        out = bytearray()
        while self._pos < self._size:
            out += self.read(self._cs) or b""
        return bytes(out)

    def close(self) -> None:
        if not self.closed:
            self._src.close()
        super().close()
