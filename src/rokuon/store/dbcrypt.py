"""The embedded database encrypted at rest (SQLCipher).

Transcripts, customer numbers, analysis and the audit log live in the SQLite file, its
WAL and its indexes; the threat model names a stolen disk or a copied database file.
With ``database_encryption`` on (the default) the file is a SQLCipher database: every
page, of the file and of the WAL, is AES-256 encrypted and authenticated (HMAC-SHA512),
so nothing of it reads as text without the key.

The key is 32 random bytes made at ``rokuon init``, kept in
``HOME/keys/database.key.json`` *wrapped* by the key provider's KEK (like every call's
data key), so it is as safe as the KEK and rotates with it (``rokuon keys rotate``
re-wraps it). It is handed to SQLCipher as a raw key (``PRAGMA key = "x'…'"``): no
passphrase derivation on every connection.

An unencrypted database from an older version is encrypted in place the first time the
installation opens (``sqlcipher_export`` into a new file, renamed over the old one under
an exclusive lock); the plaintext file and its WAL are then removed. PostgreSQL is not
touched: what must be encrypted below it is in docs/security.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from rokuon.store.keys import KeyProvider, KeyProviderError, WrappedKey

log = logging.getLogger("rokuon.store")

KEY_FILE = "database.key.json"
KEY_SIZE = 32
PLAIN_HEADER = b"SQLite format 3\x00"


class DatabaseKeyError(Exception):
    pass


def key_path(key_dir: Path) -> Path:
    return Path(key_dir) / KEY_FILE


def _write_0600(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def database_key(key_dir: Path, provider: KeyProvider, *, create: bool) -> bytes | None:
    """The database key, unwrapped by ``provider``. With ``create``, a new one is made
    (and stored wrapped) when there is none; without, None when there is none."""
    path = key_path(key_dir)
    if not path.exists():
        if not create:
            return None
        key = secrets.token_bytes(KEY_SIZE)
        _write_0600(path, provider.wrap(key).to_json())
        return key
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise DatabaseKeyError(f"database key {path} has permissions {mode:04o}; it must be "
                               f"0600 (run: chmod 600 {path})")
    try:
        key = provider.unwrap(WrappedKey.from_json(path.read_bytes()))
    except KeyProviderError as exc:
        raise DatabaseKeyError(f"database key {path}: {exc}") from exc
    if len(key) != KEY_SIZE:
        raise DatabaseKeyError(f"database key {path} is malformed")
    return key


def rewrap_database_key(key_dir: Path, provider: KeyProvider) -> bool:
    """Wrap the database key under the provider's current KEK (after a rotation)."""
    path = key_path(key_dir)
    if not path.exists():
        return False
    w = WrappedKey.from_json(path.read_bytes())
    if w.kek_id == provider.current_kek_id():
        return False
    _write_0600(path, provider.wrap(provider.unwrap(w)).to_json())
    return True


def key_pragma(key: bytes) -> str:
    return f"PRAGMA key = \"x'{key.hex()}'\""


def dbapi() -> Any:
    import sqlcipher3.dbapi2 as sqlcipher

    return sqlcipher


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (None for memory databases and others)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def is_plaintext(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(PLAIN_HEADER)) == PLAIN_HEADER
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def encrypt_in_place(path: Path, key: bytes) -> None:
    """An unencrypted SQLite database at ``path`` becomes a SQLCipher one with ``key``.
    The caller holds the installation's lock (no other connection may be open)."""
    sqlcipher = dbapi()
    tmp = path.with_name(f".{path.name}.encrypting")
    _remove(tmp)
    plain = sqlcipher.connect(str(path))
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", (str(tmp),))
        plain.execute("SELECT sqlcipher_export('encrypted')")
        version = plain.execute("PRAGMA user_version").fetchone()[0]
        plain.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        plain.execute("DETACH DATABASE encrypted")
    finally:
        plain.close()
    check = sqlcipher.connect(str(tmp))
    try:
        check.execute(key_pragma(key))
        check.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        check.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    for suffix in ("-wal", "-shm"):
        _remove(path.with_name(path.name + suffix))
    os.replace(tmp, path)
    log.warning("database %s was not encrypted: it is now (SQLCipher)", path)


def open_check(path: Path, key: bytes) -> None:
    """A one-line error when ``key`` does not open the database at ``path``."""
    if not path.exists():
        return
    sqlcipher = dbapi()
    conn = sqlcipher.connect(str(path))
    try:
        conn.execute(key_pragma(key))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError as exc:
        raise DatabaseKeyError(
            f"database {path} does not open with the key in {KEY_FILE} ({exc}): was the "
            "key file or the database replaced?") from exc
    finally:
        conn.close()
