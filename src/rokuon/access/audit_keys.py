"""Keys of the audit log, separate from the data keys:

- ``audit-hmac.key``: 32 random bytes; every entry's hash is an HMAC-SHA256 under it,
  so someone with write access to the database alone cannot rebuild the chain;
- ``audit-signing.pem`` / ``audit-signing.pub.pem``: an Ed25519 key pair; checkpoints
  are signed with it and anyone holding the public key can check them.
Files are created 0600 on first use and refused when readable by others.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


class AuditKeyError(Exception):
    pass


def _write_0600(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _read_private(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(f"audit key {path} has permissions {mode:04o}; it must be 0600 "
                            f"(run: chmod 600 {path})")
    return path.read_bytes()


class AuditKeys:
    def __init__(self, key_dir: Path) -> None:
        self.dir = Path(key_dir)
        self._lock = threading.Lock()
        self._mac_key: bytes | None = None
        self._signing: Ed25519PrivateKey | None = None

    @property
    def mac_path(self) -> Path:
        return self.dir / "audit-hmac.key"

    @property
    def signing_path(self) -> Path:
        return self.dir / "audit-signing.pem"

    @property
    def public_path(self) -> Path:
        return self.dir / "audit-signing.pub.pem"

    def mac_key(self) -> bytes:
        with self._lock:
            if self._mac_key is None:
                if not self.mac_path.exists():
                    _write_0600(self.mac_path, secrets.token_bytes(32))
                key = _read_private(self.mac_path)
                if len(key) != 32:
                    raise AuditKeyError(f"audit key {self.mac_path} is malformed")
                self._mac_key = key
            return self._mac_key

    def mac(self, message: bytes) -> str:
        return hmac.new(self.mac_key(), message, hashlib.sha256).hexdigest()

    def signing_key(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._signing is None:
                if not self.signing_path.exists():
                    key = Ed25519PrivateKey.generate()
                    _write_0600(self.signing_path, key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
                    self.public_path.write_bytes(key.public_key().public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo))
                loaded = serialization.load_pem_private_key(_read_private(self.signing_path),
                                                            None)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise AuditKeyError(f"{self.signing_path} is not an Ed25519 key")
                self._signing = loaded
            return self._signing

    def public_pem(self) -> bytes:
        return self.signing_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def key_id(self) -> str:
        return hashlib.sha256(self.public_pem()).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.signing_key().sign(message)).decode()


def verify_signature(public_pem: bytes, message: bytes, signature_b64: str) -> bool:
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("the public key is not an Ed25519 key")
    try:
        key.verify(base64.b64decode(signature_b64), message)
        return True
    except (InvalidSignature, ValueError):
        return False
