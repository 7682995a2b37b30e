"""Key-encryption keys (KEK) and the key-provider interface.

A data key (DEK) encrypts one recording; it is stored only wrapped (encrypted)
by a KEK from a key provider. Destroying the wrapped DEK crypto-shreds the
recording. Providers: the local key file (default); Vault/OpenBao transit and
cloud KMS plug in through ``make_key_provider`` without touching callers.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyProviderError(Exception):
    """A key is missing, unreadable, badly protected or does not unwrap."""


@dataclass(frozen=True)
class WrappedKey:
    provider: str
    kek_id: str
    ciphertext: bytes

    def to_json(self) -> str:
        return json.dumps({"p": self.provider, "k": self.kek_id,
                           "c": base64.b64encode(self.ciphertext).decode()},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> WrappedKey:
        try:
            d = json.loads(raw)
            return cls(provider=d["p"], kek_id=d["k"], ciphertext=base64.b64decode(d["c"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyProviderError(f"malformed wrapped key: {exc}") from exc


class KeyProvider(Protocol):
    name: str

    def current_kek_id(self) -> str: ...
    def wrap(self, dek: bytes) -> WrappedKey: ...
    def unwrap(self, w: WrappedKey) -> bytes: ...
    def rotate(self) -> str: ...


def _new_kek_id() -> str:
    return "kek-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


class LocalKeyFileProvider:
    """KEKs in a JSON file readable by the service account only (0600)."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._current, self._keys = self._load()

    @classmethod
    def create(cls, path: Path) -> LocalKeyFileProvider:
        path = Path(path)
        kek_id = _new_kek_id()
        doc = {"version": 1, "current": kek_id,
               "keys": {kek_id: base64.b64encode(secrets.token_bytes(32)).decode()}}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyProviderError(f"key file {path} already exists; refusing to overwrite "
                                   "it") from exc
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        return cls(path)

    def _load(self) -> tuple[str, dict[str, bytes]]:
        p = self.path
        try:
            st = p.stat()
        except FileNotFoundError as exc:
            raise KeyProviderError(f"key file {p} not found: recordings cannot be encrypted "
                                   "or decrypted without it (restore it from your key "
                                   "backup)") from exc
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyProviderError(f"key file {p} has permissions {mode:04o}; it must be 0600 "
                                   f"(run: chmod 600 {p})")
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            keys = {k: base64.b64decode(v, validate=True) for k, v in doc["keys"].items()}
            current = doc["current"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyProviderError(f"key file {p} is malformed: {exc}") from exc
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise KeyProviderError(f"key file {p} is malformed: bad current key or key length")
        return current, keys

    def current_kek_id(self) -> str:
        return self._current

    def wrap(self, dek: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._keys[self._current]).encrypt(nonce, dek, self._current.encode())
        return WrappedKey(self.name, self._current, nonce + ct)

    def unwrap(self, w: WrappedKey) -> bytes:
        if w.provider != self.name:
            raise KeyProviderError(f"data key wrapped by provider '{w.provider}', "
                                   f"not '{self.name}'")
        kek = self._keys.get(w.kek_id)
        if kek is None:
            raise KeyProviderError(f"key {w.kek_id} is not in {self.path}")
        try:
            return AESGCM(kek).decrypt(w.ciphertext[:12], w.ciphertext[12:], w.kek_id.encode())
        except InvalidTag as exc:
            raise KeyProviderError(f"data key does not unwrap with {w.kek_id}") from exc

    def rotate(self) -> str:
        kek_id = _new_kek_id()
        keys = {**self._keys, kek_id: secrets.token_bytes(32)}
        doc = {"version": 1, "current": kek_id,
               "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._current, self._keys = kek_id, keys
        return kek_id


def rewrap(provider: KeyProvider, w: WrappedKey) -> WrappedKey:
    """Re-wrap a data key under the current KEK (no audio is re-encrypted)."""
    return provider.wrap(provider.unwrap(w))


def make_key_provider(kind: str, **options: object) -> KeyProvider:
    if kind == "local":
        return LocalKeyFileProvider(Path(str(options["path"])))
    raise KeyProviderError(f"unknown key provider '{kind}' (available: local)")
