"""The blob store: where recordings (and later exports) live, always encrypted.

``BlobStore`` is the interface; ``LocalBlobStore`` keeps one encrypted file per key under
a root directory, ``S3BlobStore`` (blobs_s3.py) one encrypted object per key in an
S3-compatible bucket. ``make_blob_store`` picks one from the ``blob_store`` setting or a
``s3://bucket/prefix`` URL (the ``blob_url`` setting).
Plaintext never reaches the disk: it is encrypted chunk by chunk in memory while
it streams in, and decrypted chunk by chunk in memory when it is read.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: only the age-based sweep
    fcntl = None  # type: ignore[assignment]

from rokuon.store.blobcrypt import (
    DEFAULT_CHUNK_SIZE,
    BlobIntegrityError,
    DecryptingReader,
    EncryptingWriter,
    new_dek,
)
from rokuon.store.keys import KeyProvider, WrappedKey

_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}"
_KEY_RE = re.compile(rf"{_SEGMENT}(/{_SEGMENT}){{0,15}}")
_MAX_KEY_LEN = 512
_PARTIAL = ".partial-"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class BlobStoreError(Exception):
    """The store cannot write, read or find a blob (the message says why, in one line)."""


class BlobTooLargeError(BlobStoreError):
    """The stream is longer than ``max_bytes``."""


class BlobNotFoundError(BlobStoreError):
    """No blob under that key."""


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str
    wrapped_key: WrappedKey


class BlobStore(Protocol):
    """Encrypted blob storage; every blob has its own data key, returned wrapped."""

    def put_stream(self, key: str, chunks: Iterable[bytes], *,
                   max_bytes: int | None = None) -> StoredBlob: ...

    def open(self, key: str, wrapped_key: WrappedKey) -> DecryptingReader: ...

    def read_all(self, key: str, wrapped_key: WrappedKey, *,
                 expected_sha256: str | None = None) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def keys(self) -> Iterator[str]: ...

    def size_on_disk(self, key: str) -> int: ...

    def stored_at(self, key: str) -> float: ...

    def raw_chunks(self, key: str, chunk: int = ...) -> Iterator[bytes]: ...

    def put_raw(self, key: str, chunks: Iterable[bytes]) -> int: ...


def validate_key(key: str) -> str:
    """Return ``key`` when it is a safe blob key (``calls/<id>/original``), else raise.

    Parts of letters, digits, ``_ - .`` separated by ``/``; no part starts with a dot
    (no ``..``, no hidden or partial files), no leading or trailing ``/``.
    """
    if not isinstance(key, str) or len(key) > _MAX_KEY_LEN or not _KEY_RE.fullmatch(key):
        raise BlobStoreError(f"invalid blob key {key!r}: use letters, digits, '_', '-' and "
                             "'.' in '/'-separated parts (no '..', no leading '/' or '.')")
    return key


def checked(key: str, data: bytes, expected_sha256: str | None) -> bytes:
    """``data`` when its sha256 is the one recorded at ingest (or none was given), else
    BlobIntegrityError — what every store's ``read_all`` checks."""
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.lower():
            raise BlobIntegrityError(f"{key}: content hash does not match the one "
                                     f"recorded at ingest (sha256 {actual[:16]}…, "
                                     f"expected {expected_sha256[:16]}…)")
    return data


def human_size(n: int) -> str:
    """``524288000`` → ``500 MiB``."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if n % factor == 0 else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _open_partial(path: Path) -> BinaryIO:
    """Create the hidden partial file (mode 0600, must not exist) for writing; the writer
    holds an exclusive ``flock`` on it until it is closed, so a sweep can tell a partial
    file being written from one whose writer died (the kernel drops the lock)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """One encrypted file per key under ``root`` (folders 0700, files 0600).

    Writes go to ``.<name>.partial-<random>`` in the target folder, are fsync'ed and
    renamed into place atomically; on any failure the partial file is removed.
    """

    def __init__(self, root: str | os.PathLike[str], keys: KeyProvider, *,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.root = Path(root)
        self.key_provider = keys
        self.chunk_size = chunk_size

    def path_of(self, key: str) -> Path:
        return self.root / validate_key(key)

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _disk(self, key: str) -> Iterator[None]:
        """Turn an OSError of the store's own file system into a one-line BlobStoreError."""
        try:
            yield
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise BlobStoreError(f"disk full while writing {key} under {self.root} "
                                     "(free some space on that disk)") from exc
            raise BlobStoreError(f"cannot write {key} under {self.root}: "
                                 f"{exc.strerror or exc}") from exc

    def _make_dirs(self, folder: Path) -> None:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o700)
        current = self.root
        for part in folder.relative_to(self.root).parts:
            current = current / part
            try:
                os.mkdir(current, 0o700)
            except FileExistsError:
                continue
            os.chmod(current, 0o700)  # exactly 0700, whatever the umask

    def put_stream(self, key: str, chunks: Iterable[bytes], *,
                   max_bytes: int | None = None) -> StoredBlob:
        """Encrypt ``chunks`` into the blob ``key`` (replacing any blob there).

        Errors while reading ``chunks`` propagate unchanged; errors of the store's disk
        become BlobStoreError; ``max_bytes`` exceeded is BlobTooLargeError. In every case
        nothing is left behind.
        """
        path = self.path_of(key)
        dek = new_dek()
        wrapped = self.key_provider.wrap(dek)  # a key provider failure writes nothing
        with self._disk(key):
            self._make_dirs(path.parent)
        tmp = path.with_name(f".{path.name}{_PARTIAL}{secrets.token_hex(8)}")
        fh: BinaryIO | None = None
        writer: EncryptingWriter | None = None
        placed = False
        try:
            with self._disk(key):
                fh = _open_partial(tmp)
                writer = EncryptingWriter(fh, dek, chunk_size=self.chunk_size)
            for chunk in chunks:
                if max_bytes is not None and writer.size + len(chunk) > max_bytes:
                    raise BlobTooLargeError(
                        f"recording exceeds the upload limit of {human_size(max_bytes)}")
                with self._disk(key):
                    writer.write(chunk)
            with self._disk(key):
                writer.finish()
                fh.flush()
                os.fsync(fh.fileno())
                os.replace(tmp, path)  # still open, so still locked until it has its name
                placed = True
                fh.close()
                _fsync_dir(path.parent)
        except BaseException:
            if writer is not None:
                writer.abort()
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()  # may fail again (disk full): the file is removed anyway
            with contextlib.suppress(OSError):
                tmp.unlink()
            if placed:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        return StoredBlob(key=key, size=writer.size, sha256=writer.sha256, wrapped_key=wrapped)

    # -- reading -------------------------------------------------------------------------------

    def open(self, key: str, wrapped_key: WrappedKey) -> DecryptingReader:
        """A seekable plaintext view of the blob (close it, or use ``with``)."""
        path = self.path_of(key)
        dek = self.key_provider.unwrap(wrapped_key)
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 - the reader owns it
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {key} is missing from {self.root}") from exc
        except OSError as exc:
            raise BlobStoreError(f"cannot read {key} under {self.root}: "
                                 f"{exc.strerror or exc}") from exc
        try:
            return DecryptingReader(fh, dek, name=key)
        except BaseException:
            fh.close()
            raise

    def read_all(self, key: str, wrapped_key: WrappedKey, *,
                 expected_sha256: str | None = None) -> bytes:
        """The whole plaintext; checks the sha256 recorded at ingest when given."""
        with self.open(key, wrapped_key) as r:
            return checked(key, r.readall(), expected_sha256)

    # -- housekeeping --------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Remove the blob (no error when it is already gone) and its empty folders."""
        path = self.path_of(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise BlobStoreError(f"cannot delete {key} under {self.root}: "
                                 f"{exc.strerror or exc}") from exc
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def keys(self) -> Iterator[str]:
        """Every stored key, folder by folder, sorted within a folder (partial files are
        not blobs)."""
        if not self.root.is_dir():
            return
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel = Path(folder).relative_to(self.root)
            for name in sorted(files):
                key = (rel / name).as_posix()
                if _KEY_RE.fullmatch(key):
                    yield key

    def size_on_disk(self, key: str) -> int:
        """Bytes the encrypted blob takes (header and tags included)."""
        try:
            return self.path_of(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {key} is missing from {self.root}") from exc

    def stored_at(self, key: str) -> float:
        """When the blob was written (Unix seconds)."""
        try:
            return self.path_of(key).stat().st_mtime
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {key} is missing from {self.root}") from exc

    def raw_chunks(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """The encrypted file, streamed (backups copy it byte for byte)."""
        try:
            fh = open(self.path_of(key), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {key} is missing from {self.root}") from exc
        with fh:
            while data := fh.read(chunk):
                yield data

    def put_raw(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store already-encrypted bytes (a restore from backup) atomically; their size."""
        path = self.path_of(key)
        with self._disk(key):
            self._make_dirs(path.parent)
        tmp = path.with_name(f".{path.name}{_PARTIAL}{secrets.token_hex(8)}")
        size = 0
        try:
            with self._disk(key):
                with _open_partial(tmp) as fh:
                    for data in chunks:
                        fh.write(data)
                        size += len(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return size

    def sweep_partials(self, older_than_s: float = 3600.0) -> list[Path]:
        """Remove partial files older than ``older_than_s`` left by a crash during a write."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        cutoff = time.time() - older_than_s
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not (name.startswith(".") and _PARTIAL in name):
                    continue
                p = Path(folder) / name
                try:
                    if p.stat().st_mtime <= cutoff:
                        p.unlink()
                        removed.append(p)
                except FileNotFoundError:  # finished or swept meanwhile
                    continue
        return removed


    def sweep_abandoned_partials(self) -> list[Path]:
        """Remove partial files whose writer is gone (killed during a write), whatever
        their age: a live writer holds its file's lock, and its file is left alone."""
        removed: list[Path] = []
        if fcntl is None or not self.root.is_dir():
            return removed
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not (name.startswith(".") and _PARTIAL in name):
                    continue
                p = Path(folder) / name
                try:
                    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:  # finished or swept meanwhile
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # being written
                else:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                        removed.append(p)
                finally:
                    os.close(fd)
        return removed


BlobStoreFactory = Callable[..., BlobStore]
_STORES: dict[str, BlobStoreFactory] = {}


def register_blob_store(kind: str, factory: BlobStoreFactory) -> None:
    _STORES[kind] = factory


def make_blob_store(kind: str, **options: Any) -> BlobStore:
    """Build the blob store named ``kind`` (the ``blob_store`` setting), or the one a URL
    names (``s3://bucket/prefix``: the ``blob_url`` setting)."""
    if "://" in kind:
        scheme = kind.split("://", 1)[0].lower()
        if scheme != "s3":
            raise BlobStoreError(f"unknown blob URL scheme '{scheme}://' in {kind!r} "
                                 "(use s3://bucket/prefix)")
        from rokuon.store.blobs_s3 import _make_s3

        options.pop("root", None)
        return _make_s3(url=kind, **options)
    factory = _STORES.get(kind)
    if factory is None:
        raise BlobStoreError(f"unknown blob store '{kind}' "
                             f"(available: {', '.join(sorted(_STORES))})")
    try:
        return factory(**options)
    except TypeError as exc:
        raise BlobStoreError(f"bad options for blob store '{kind}': {exc}") from exc


def _make_local(*, root: str | os.PathLike[str], keys: KeyProvider,
                chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobStore:
    return LocalBlobStore(root, keys, chunk_size=chunk_size)


register_blob_store("local", _make_local)
