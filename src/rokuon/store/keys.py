"""Key-encryption keys (KEK) and the key-provider interface.

A data key (DEK) encrypts one recording; it is stored only wrapped (encrypted)
by a KEK from a key provider. Destroying the wrapped DEK crypto-shreds the
recording. Providers: the local key file (default); Vault/OpenBao transit and
cloud KMS plug in through ``register_key_provider``/``make_key_provider``
without touching callers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEK_SIZE = 32
KEK_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_FILE_VERSION = 1
_MAX_KEY_FILE = 1024 * 1024
_KEK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyProviderError(Exception):
    """A key is missing, unreadable, badly protected or does not unwrap."""


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted by the KEK ``kek_id`` of the provider ``provider``."""

    provider: str
    kek_id: str
    ciphertext: bytes = field(repr=False)

    def to_json(self) -> str:
        """Compact form for a database column: ``{"p":…,"k":…,"c":base64}``."""
        return json.dumps({"p": self.provider, "k": self.kek_id,
                           "c": base64.b64encode(self.ciphertext).decode("ascii")},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> WrappedKey:
        try:
            d = json.loads(raw)
            p, k, c = d["p"], d["k"], d["c"]
            if not (isinstance(p, str) and isinstance(k, str) and isinstance(c, str)):
                raise TypeError("fields p, k and c must be strings")
            return cls(provider=p, kek_id=k, ciphertext=base64.b64decode(c, validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise KeyProviderError(f"malformed wrapped key: {exc}") from exc


class KeyProvider(Protocol):
    """Wraps and unwraps data keys; the interface every key backend implements."""

    name: str

    def current_kek_id(self) -> str: ...

    def wrap(self, dek: bytes) -> WrappedKey: ...

    def unwrap(self, w: WrappedKey) -> bytes: ...

    def rotate(self) -> str: ...


def new_kek_id() -> str:
    return "kek-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Serialise changes to the keys folder: rotations (several processes may share one
    key file), encrypting the database in place."""
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` (which must not exist) with mode 0600 and write ``text`` durably."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode_doc(current: str, keys: dict[str, bytes]) -> str:
    return json.dumps({"version": _FILE_VERSION, "current": current,
                       "keys": {k: base64.b64encode(v).decode("ascii") for k, v in keys.items()}},
                      indent=2) + "\n"


class LocalKeyFileProvider:
    """KEKs in a JSON file readable by the service account only (mode 0600).

    File: ``{"version": 1, "current": "<kek id>", "keys": {"<kek id>": base64(32 bytes)}}``.
    Wrapping is AES-256-GCM with a random 96-bit nonce and the KEK id as associated data;
    ``WrappedKey.ciphertext`` = nonce | encrypted DEK | tag. Old KEKs stay for unwrapping.
    Another process (``rokuon`` CLI) may rotate the file: it is re-read when it changes.
    """

    name = "local"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._current, self._keys, self._stamp = self._load()

    # -- creating and loading ------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> LocalKeyFileProvider:
        """Write a new key file with one KEK (mode 0600); never overwrites an existing file."""
        path = Path(path)
        if os.path.lexists(path):
            raise KeyProviderError(f"key file {path} already exists; refusing to overwrite it")
        if not path.parent.is_dir():
            raise KeyProviderError(f"cannot create key file {path}: folder {path.parent} "
                                   "does not exist")
        kek_id = new_kek_id()
        text = _encode_doc(kek_id, {kek_id: secrets.token_bytes(KEK_SIZE)})
        tmp = path.with_name(f".{path.name}.new-{secrets.token_hex(6)}")
        try:
            _write_private(tmp, text)
            try:
                os.link(tmp, path)  # atomic, and fails when the file appeared meanwhile
            except FileExistsError:
                raise
            except OSError:  # a filesystem without hard links: exclusive create instead
                _write_private(path, text)
            _fsync_dir(path.parent)
        except FileExistsError as exc:
            raise KeyProviderError(f"key file {path} already exists; refusing to overwrite "
                                   "it") from exc
        except OSError as exc:
            raise KeyProviderError(f"cannot create key file {path}: "
                                   f"{exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return cls(path)

    def _load(self) -> tuple[str, dict[str, bytes], tuple[int, ...]]:
        p = self.path
        try:
            fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise KeyProviderError(f"key file {p} not found: recordings cannot be encrypted "
                                   "or decrypted without it (restore it from your key "
                                   "backup)") from exc
        except OSError as exc:
            raise KeyProviderError(f"key file {p} cannot be opened: "
                                   f"{exc.strerror or exc}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeyProviderError(f"key file {p} is not a regular file")
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                raise KeyProviderError(f"key file {p} has permissions {mode:04o}; it must be "
                                       f"0600 (run: chmod 600 {p})")
            if st.st_size > _MAX_KEY_FILE:
                raise KeyProviderError(f"key file {p} is malformed: too large "
                                       f"({st.st_size} bytes)")
            with os.fdopen(os.dup(fd), "rb") as fh:
                raw = fh.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            raise KeyProviderError(f"key file {p} cannot be read: "
                                   f"{exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        current, keys = self._parse(raw)
        return current, keys, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _parse(self, raw: bytes) -> tuple[str, dict[str, bytes]]:
        def bad(why: str) -> KeyProviderError:
            return KeyProviderError(f"key file {self.path} is malformed: {why}")

        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad(f"not JSON ({exc})") from exc
        if not isinstance(doc, dict):
            raise bad("not a JSON object")
        if doc.get("version") != _FILE_VERSION:
            raise bad(f"unsupported version {doc.get('version')!r} (expected {_FILE_VERSION})")
        current, entries = doc.get("current"), doc.get("keys")
        if not isinstance(entries, dict) or not entries:
            raise bad("'keys' must be a non-empty object")
        keys: dict[str, bytes] = {}
        for kek_id, b64 in entries.items():
            if not _KEK_ID_RE.match(kek_id):
                raise bad(f"invalid key id {kek_id!r}")
            try:
                key = base64.b64decode(b64, validate=True)
            except (TypeError, ValueError, binascii.Error) as exc:
                raise bad(f"key {kek_id} is not base64") from exc
            if len(key) != KEK_SIZE:
                raise bad(f"key {kek_id} has {len(key)} bytes, not {KEK_SIZE}")
            keys[kek_id] = key
        if not isinstance(current, str) or current not in keys:
            raise bad(f"current key {current!r} is not in 'keys'")
        return current, keys

    def _stat_stamp(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _refresh(self) -> None:
        """Re-read the file when another process has rotated it (an atomic replace)."""
        if self._stat_stamp() != self._stamp:
            self._current, self._keys, self._stamp = self._load()

    # -- KeyProvider ---------------------------------------------------------------------------

    def kek_ids(self) -> list[str]:
        self._refresh()
        return sorted(self._keys)

    def current_kek_id(self) -> str:
        self._refresh()
        return self._current

    def wrap(self, dek: bytes) -> WrappedKey:
        if len(dek) != DEK_SIZE:
            raise KeyProviderError(f"data key must be {DEK_SIZE} bytes, not {len(dek)}")
        self._refresh()
        kek_id = self._current
        nonce = secrets.token_bytes(_NONCE_SIZE)
        ct = AESGCM(self._keys[kek_id]).encrypt(nonce, bytes(dek), kek_id.encode())
        return WrappedKey(self.name, kek_id, nonce + ct)

    def unwrap(self, w: WrappedKey) -> bytes:
        if w.provider != self.name:
            raise KeyProviderError(f"data key wrapped by key provider '{w.provider}', "
                                   f"not '{self.name}'")
        kek = self._keys.get(w.kek_id)
        if kek is None:  # maybe rotated by another process since we loaded the file
            self._refresh()
            kek = self._keys.get(w.kek_id)
        if kek is None:
            raise KeyProviderError(f"key {w.kek_id} is not in key file {self.path} (was the "
                                   "file replaced by an older backup?)")
        if len(w.ciphertext) != _NONCE_SIZE + DEK_SIZE + _TAG_SIZE:
            raise KeyProviderError(f"wrapped data key has a bad length ({len(w.ciphertext)})")
        try:
            return AESGCM(kek).decrypt(w.ciphertext[:_NONCE_SIZE], w.ciphertext[_NONCE_SIZE:],
                                       w.kek_id.encode())
        except InvalidTag as exc:
            raise KeyProviderError(f"data key does not unwrap with {w.kek_id} "
                                   "(changed or wrapped by another key file)") from exc

    def rotate(self) -> str:
        """Add a new current KEK; the file is replaced atomically (0600 temp + rename)."""
        kek_id = new_kek_id()
        tmp = self.path.with_name(f".{self.path.name}.new-{secrets.token_hex(6)}")
        try:
            with folder_lock(self.path.parent):
                _, keys, _ = self._load()  # start from what is on disk now
                while kek_id in keys:
                    kek_id = new_kek_id()
                keys[kek_id] = secrets.token_bytes(KEK_SIZE)
                _write_private(tmp, _encode_doc(kek_id, keys))
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise KeyProviderError(f"cannot rewrite key file {self.path}: "
                                   f"{exc.strerror or exc}") from exc
        self._current, self._keys, self._stamp = self._load()
        return kek_id


def rewrap(provider: KeyProvider, w: WrappedKey, *,
           source: KeyProvider | None = None) -> WrappedKey:
    """Re-wrap a data key under the current KEK of ``provider`` (no audio is re-encrypted).

    ``source`` unwraps when the key comes from another provider (a migration).
    """
    return provider.wrap((source or provider).unwrap(w))


KeyProviderFactory = Callable[..., KeyProvider]
_PROVIDERS: dict[str, KeyProviderFactory] = {}


def register_key_provider(kind: str, factory: KeyProviderFactory) -> None:
    _PROVIDERS[kind] = factory


def make_key_provider(kind: str, **options: Any) -> KeyProvider:
    """Build the key provider named ``kind`` (the ``key_provider`` setting)."""
    factory = _PROVIDERS.get(kind)
    if factory is None:
        raise KeyProviderError(f"unknown key provider '{kind}' "
                               f"(available: {', '.join(sorted(_PROVIDERS))})")
    try:
        return factory(**options)
    except TypeError as exc:
        raise KeyProviderError(f"bad options for key provider '{kind}': {exc}") from exc


def _make_local(*, path: str | os.PathLike[str] | None = None) -> KeyProvider:
    if path is None:
        raise KeyProviderError("key provider 'local' needs path= (the key file)")
    return LocalKeyFileProvider(path)


register_key_provider("local", _make_local)
