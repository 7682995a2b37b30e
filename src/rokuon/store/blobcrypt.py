"""Chunked AES-256-GCM stream encryption for recordings (format ``RKB1``).

Layout of an encrypted blob::

    header (20 bytes): b"RKB1" | version u8 | 3 zero bytes | chunk size u32 | nonce prefix 8
    chunk 0 … chunk n-1: AES-256-GCM(plaintext chunk) | 16-byte tag
    every chunk but the last holds exactly `chunk size` plaintext bytes; the last one holds
    0 … chunk size - 1 bytes (an empty last chunk is written when needed, so an empty
    blob is authenticated too)

Nonce = prefix | chunk index (u32, big-endian). Associated data = header | index (u32) |
final flag (u8), so a changed, dropped, reordered, truncated or appended chunk, a changed
header and a wrong data key all fail authentication. The plaintext size follows from the
ciphertext size, and chunk boundaries are fixed: the reader is seekable.

Every blob has its own random data key (DEK), so nonces can never repeat under one key.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import struct
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"RKB1"
VERSION = 1
HEADER = struct.Struct(">4sB3xI8s")
HEADER_SIZE = HEADER.size
TAG = TAG_SIZE = 16
DEK_SIZE = 32
PREFIX_SIZE = 8
DEFAULT_CHUNK_SIZE = DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
_MAX_CHUNKS = 2**32


class BlobIntegrityError(Exception):
    """The encrypted blob was changed, truncated or does not belong to this key."""


def new_dek() -> bytes:
    """A fresh random 256-bit data key."""
    return secrets.token_bytes(DEK_SIZE)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if final else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _check_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be 1 … {MAX_CHUNK_SIZE} bytes, not {chunk_size}")


def ciphertext_size(plaintext_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Size of the encrypted blob for ``plaintext_size`` bytes."""
    chunks = plaintext_size // chunk_size + 1  # the last chunk is never full
    return HEADER_SIZE + plaintext_size + chunks * TAG_SIZE


def plaintext_size(blob_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Plaintext size of an encrypted blob of ``blob_size`` bytes; BlobIntegrityError when
    no blob can have that size (truncated or extended)."""
    body = blob_size - HEADER_SIZE - TAG_SIZE
    if body < 0:
        raise BlobIntegrityError("truncated: no final chunk")
    full, last = divmod(body, chunk_size + TAG_SIZE)
    if last >= chunk_size:
        raise BlobIntegrityError("truncated or extended: impossible size")
    return full * chunk_size + last


class EncryptingWriter:
    """Encrypts what is written into the binary file ``out``.

    ``write()`` buffers and emits full chunks; ``finish()`` (or ``close()``) writes the
    final chunk. The plaintext only ever lives in memory (at most one chunk buffered).
    ``out`` is not closed. Used as a context manager, an exception leaves the blob without
    its final chunk, so the incomplete blob can never pass as complete.
    """

    def __init__(self, out: BinaryIO, dek: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 prefix: bytes | None = None) -> None:
        _check_chunk_size(chunk_size)
        if len(dek) != DEK_SIZE:
            raise ValueError(f"data key must be {DEK_SIZE} bytes, not {len(dek)}")
        if prefix is None:
            prefix = secrets.token_bytes(PREFIX_SIZE)
        if len(prefix) != PREFIX_SIZE:
            raise ValueError(f"nonce prefix must be {PREFIX_SIZE} bytes")
        self._out = out
        self._aes = AESGCM(dek)
        self._cs = chunk_size
        self._prefix = bytes(prefix)
        self._header = HEADER.pack(MAGIC, VERSION, chunk_size, self._prefix)
        self._buf = bytearray()
        self._index = 0
        self._hash = hashlib.sha256()
        self.size = 0
        self.finished = False
        self._aborted = False
        out.write(self._header)

    @property
    def sha256(self) -> str:
        """Hex sha256 of the plaintext written so far."""
        return self._hash.hexdigest()

    @property
    def chunk_size(self) -> int:
        return self._cs

    @property
    def blob_id(self) -> bytes:
        """The random nonce prefix: identifies this blob's header."""
        return self._prefix

    def _emit(self, data: bytes | bytearray | memoryview, final: bool) -> None:
        if self._index >= _MAX_CHUNKS:
            raise ValueError("blob too large for the RKB1 format")
        ct = self._aes.encrypt(_nonce(self._prefix, self._index), data,
                               _aad(self._header, self._index, final))
        self._out.write(ct)
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.finished or self._aborted:
            raise ValueError("write to a finished EncryptingWriter")
        view = memoryview(data).cast("B")
        n = len(view)
        self._hash.update(view)
        self.size += n
        cs, pos = self._cs, 0
        # A chunk is emitted only once a byte after it is known: the final chunk is never
        # full, so the plaintext size follows from the ciphertext size.
        if self._buf:
            need = cs - len(self._buf)
            if n <= need:
                self._buf += view
                return n
            self._buf += view[:need]
            self._emit(self._buf, False)
            self._buf.clear()
            pos = need
        while n - pos > cs:
            self._emit(view[pos:pos + cs], False)
            pos += cs
        self._buf += view[pos:]
        return n

    def finish(self) -> None:
        """Write the final chunk (idempotent)."""
        if self.finished:
            return
        if self._aborted:
            raise ValueError("cannot finish an aborted EncryptingWriter")
        if len(self._buf) == self._cs:
            self._emit(self._buf, False)
            self._buf.clear()
        self._emit(self._buf, True)
        self._buf.clear()
        self.finished = True

    def close(self) -> None:
        self.finish()

    def abort(self) -> None:
        """Drop the buffered plaintext; the blob stays without a final chunk (invalid)."""
        self._aborted = True
        self._buf[:] = bytes(len(self._buf))
        self._buf.clear()

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


class DecryptingReader(io.RawIOBase):
    """A readable, seekable view of the plaintext of an encrypted blob.

    Only the chunks that are read are decrypted; the current chunk is cached. The final
    chunk is authenticated on open, so truncation and a wrong key fail early. ``src``
    (positioned anywhere; the blob starts at offset 0) is closed with the reader.
    Not thread-safe: use one reader per thread.
    """

    def __init__(self, src: BinaryIO, dek: bytes, *, name: str = "blob") -> None:
        super().__init__()
        self._src = src
        self._label = name
        if len(dek) != DEK_SIZE:
            raise ValueError(f"data key must be {DEK_SIZE} bytes, not {len(dek)}")
        self._aes = AESGCM(dek)
        src.seek(0)
        header = src.read(HEADER_SIZE)
        try:
            magic, version, cs, prefix = HEADER.unpack(header)
        except struct.error as exc:
            raise BlobIntegrityError(f"{name}: not an encrypted rokuon blob (short header)") \
                from exc
        if magic != MAGIC:
            raise BlobIntegrityError(f"{name}: not an encrypted rokuon blob (bad header)")
        if version != VERSION:
            raise BlobIntegrityError(f"{name}: unsupported blob format version {version}")
        if not 1 <= cs <= MAX_CHUNK_SIZE:
            raise BlobIntegrityError(f"{name}: bad chunk size {cs} in the header")
        self._header, self._cs, self._prefix = bytes(header), cs, prefix
        blob_size = src.seek(0, io.SEEK_END)
        try:
            self._size = plaintext_size(blob_size, cs)
        except BlobIntegrityError as exc:
            raise BlobIntegrityError(f"{name}: {exc}") from None
        self._last = self._size // cs
        if self._last >= _MAX_CHUNKS:
            raise BlobIntegrityError(f"{name}: too many chunks")
        self._pos = 0
        self._ct = bytearray(cs + TAG_SIZE)
        self._cache = bytearray(cs)
        self._cache_index = -1
        self._cache_len = 0
        self._chunk(self._last)  # authenticates the final chunk: truncation, wrong key

    # -- sizes and names -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Plaintext size in bytes."""
        return self._size

    @property
    def plaintext_size(self) -> int:
        return self._size

    @property
    def chunk_size(self) -> int:
        return self._cs

    @property
    def name(self) -> str:
        return self._label

    # -- decryption ----------------------------------------------------------------------------

    def _chunk_len(self, index: int) -> int:
        return self._size - index * self._cs if index == self._last else self._cs

    def _read_ct(self, index: int, length: int) -> memoryview:
        self._src.seek(HEADER_SIZE + index * (self._cs + TAG_SIZE))
        view = memoryview(self._ct)[:length]
        got = 0
        while got < length:
            n = self._src.readinto(view[got:])
            if not n:
                raise BlobIntegrityError(f"{self._label}: chunk {index} is truncated (the "
                                         "file changed while it was read)")
            got += n
        return view

    def _decrypt_into(self, index: int, out: memoryview) -> None:
        """Decrypt chunk ``index`` into ``out`` (exactly the chunk's plaintext length)."""
        ct = self._read_ct(index, len(out) + TAG_SIZE)
        try:
            self._aes.decrypt_into(_nonce(self._prefix, index), ct,
                                   _aad(self._header, index, index == self._last), out)
        except InvalidTag as exc:
            out[:] = bytes(len(out))  # never hand out unauthenticated plaintext
            raise BlobIntegrityError(f"{self._label}: chunk {index} failed authentication "
                                     "(changed, reordered, truncated or wrong key)") from exc

    def _chunk(self, index: int) -> memoryview:
        length = self._chunk_len(index)
        view = memoryview(self._cache)[:length]
        if index != self._cache_index:
            self._cache_index = -1
            self._decrypt_into(index, view)
            self._cache_index = index
        return view

    # -- io.RawIOBase --------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed DecryptingReader")

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._pos
        elif whence == io.SEEK_END:
            base = self._size
        else:
            raise ValueError(f"invalid whence {whence}")
        pos = base + offset
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self._check_open()
        view = memoryview(b).cast("B")
        want, n = len(view), 0
        while n < want and self._pos < self._size:
            index, off = divmod(self._pos, self._cs)
            length = self._chunk_len(index)
            if off == 0 and want - n >= length and index != self._cache_index:
                self._decrypt_into(index, view[n:n + length])  # whole chunk: no copy
                take = length
            else:
                chunk = self._chunk(index)
                take = min(want - n, length - off)
                view[n:n + take] = chunk[off:off + take]
            n += take
            self._pos += take
        return n

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        buf = bytearray(max(0, min(size, self._size - self._pos)))
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def readall(self) -> bytes:
        return self.read(max(0, self._size - self._pos))

    def close(self) -> None:
        if not self.closed:
            try:
                self._src.close()
            finally:
                if hasattr(self, "_cache"):
                    self._cache[:] = bytes(len(self._cache))  # drop the cached plaintext
                    self._cache_index = -1
        super().close()


def recover_chunks(src: BinaryIO, dek: bytes) -> Iterator[bytes]:
    """The authenticated plaintext of a blob that may lack its end (a live recording
    whose writer was killed): every complete chunk, in order, up to the first one that
    is missing, short or fails authentication. A finished blob yields all of it."""
    src.seek(0)
    header = src.read(HEADER_SIZE)
    try:
        magic, version, cs, prefix = HEADER.unpack(header)
    except struct.error as exc:
        raise BlobIntegrityError("not an encrypted rokuon blob (short header)") from exc
    if magic != MAGIC or version != VERSION or not 1 <= cs <= MAX_CHUNK_SIZE:
        raise BlobIntegrityError("not an encrypted rokuon blob (bad header)")
    aes = AESGCM(dek)
    index = 0
    while True:
        ct = src.read(cs + TAG_SIZE)
        if len(ct) < TAG_SIZE:
            return
        for final in ((False, True) if len(ct) == cs + TAG_SIZE else (True,)):
            try:
                plain = aes.decrypt(_nonce(prefix, index), ct, _aad(header, index, final))
            except InvalidTag:
                continue
            break
        else:
            return  # cut short by a crash mid-write: what came before is the recording
        if plain:
            yield plain
        if final:
            return
        index += 1
