"""The blob store: where recordings (and later exports) live, always encrypted.

``BlobStore`` is the interface (an S3-compatible store comes later);
``LocalBlobStore`` keeps one encrypted file per key under a root directory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rokuon.store.blobcrypt import BlobIntegrityError, DecryptingReader, EncryptingWriter
from rokuon.store.keys import KeyProvider, WrappedKey

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
_PARTIAL = ".partial-"


class BlobStoreError(Exception):
    pass


class BlobTooLargeError(BlobStoreError):
    pass


@dataclass
class StoredBlob:
    key: str
    size: int
    sha256: str
    wrapped_key: WrappedKey


class BlobStore(Protocol):
    def put_stream(self, key: str, chunks: Iterable[bytes], *,
                   max_bytes: int | None = None) -> StoredBlob: ...
    def open(self, key: str, wrapped_key: WrappedKey) -> DecryptingReader: ...
    def read_all(self, key: str, wrapped_key: WrappedKey, *,
                 expected_sha256: str | None = None) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self) -> Iterator[str]: ...


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


class LocalBlobStore:
    def __init__(self, root: Path, keys: KeyProvider) -> None:
        self.root = Path(root)
        self.key_provider = keys

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key) or ".." in key.split("/") or _PARTIAL in key:
            raise BlobStoreError(f"invalid blob key {key!r}")
        return self.root / key

    def put_stream(self, key: str, chunks: Iterable[bytes], *,
                   max_bytes: int | None = None) -> StoredBlob:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}{_PARTIAL}{secrets.token_hex(6)}")
        dek = secrets.token_bytes(32)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                writer = EncryptingWriter(fh, dek)
                for chunk in chunks:
                    if max_bytes is not None and writer.size + len(chunk) > max_bytes:
                        raise BlobTooLargeError(
                            f"recording exceeds the upload limit of {_human(max_bytes)}")
                    writer.write(chunk)
                writer.finish()
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BlobStoreError(f"disk full while writing {key} under {self.root}") from exc
            raise BlobStoreError(f"cannot write {key}: {exc.strerror or exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=writer.size, sha256=writer.sha256,
                          wrapped_key=self.key_provider.wrap(dek))

    def open(self, key: str, wrapped_key: WrappedKey) -> DecryptingReader:
        path = self._path(key)
        dek = self.key_provider.unwrap(wrapped_key)
        try:
            fh = path.open("rb")
        except FileNotFoundError as exc:
            raise BlobStoreError(f"blob {key} is missing from {self.root}") from exc
        try:
            return DecryptingReader(fh, dek, name=key)
        except BaseException:
            fh.close()
            raise

    def read_all(self, key: str, wrapped_key: WrappedKey, *,
                 expected_sha256: str | None = None) -> bytes:
        with self.open(key, wrapped_key) as r:
            data = r.readall()
        if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise BlobIntegrityError(f"{key}: content hash does not match the one recorded "
                                     "at ingest")
        return data

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self) -> Iterator[str]:
        if not self.root.exists():
            return
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                yield p.relative_to(self.root).as_posix()

    def size_on_disk(self, key: str) -> int:
        return self._path(key).stat().st_size

    def sweep_partials(self, older_than_s: float = 3600) -> list[Path]:
        """Remove partial files left by a crash during a write."""
        removed = []
        if self.root.exists():
            now = time.time()
            for p in self.root.rglob(f".*{_PARTIAL}*"):
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink(missing_ok=True)
                    removed.append(p)
        return removed


def make_blob_store(kind: str, *, root: Path, keys: KeyProvider) -> BlobStore:
    if kind == "local":
        return LocalBlobStore(root, keys)
    raise BlobStoreError(f"unknown blob store '{kind}' (available: local)")
