"""Key file protection, rotation and re-wrap; the local blob store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rokuon.store.blobcrypt import BlobIntegrityError
from rokuon.store.blobs import BlobStoreError, BlobTooLargeError, LocalBlobStore
from rokuon.store.keys import (
    KeyProviderError,
    LocalKeyFileProvider,
    WrappedKey,
    make_key_provider,
    rewrap,
)


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider.create(tmp_path / "kek.json")


def test_key_file_is_0600_and_not_overwritten(keys: LocalKeyFileProvider) -> None:
    assert stat.S_IMODE(os.stat(keys.path).st_mode) == 0o600
    with pytest.raises(KeyProviderError, match="already exists"):
        LocalKeyFileProvider.create(keys.path)


def test_bad_permissions_missing_and_malformed(keys: LocalKeyFileProvider,
                                               tmp_path: Path) -> None:
    os.chmod(keys.path, 0o644)
    with pytest.raises(KeyProviderError, match=r"permissions 0644; it must be 0600"):
        LocalKeyFileProvider(keys.path)
    with pytest.raises(KeyProviderError, match="not found"):
        make_key_provider("local", path=tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    os.chmod(bad, 0o600)
    with pytest.raises(KeyProviderError, match="malformed"):
        LocalKeyFileProvider(bad)
    with pytest.raises(KeyProviderError, match="unknown key provider"):
        make_key_provider("vault-that-does-not-exist")


def test_rotation_keeps_old_keys_and_rewraps(keys: LocalKeyFileProvider) -> None:
    dek = os.urandom(32)
    old = keys.wrap(dek)
    new_id = keys.rotate()
    assert new_id != old.kek_id and keys.current_kek_id() == new_id
    reloaded = LocalKeyFileProvider(keys.path)
    assert reloaded.unwrap(old) == dek
    moved = rewrap(reloaded, old)
    assert moved.kek_id == new_id and reloaded.unwrap(moved) == dek
    assert WrappedKey.from_json(moved.to_json()) == moved
    assert stat.S_IMODE(os.stat(keys.path).st_mode) == 0o600


def test_tampered_wrapped_key(keys: LocalKeyFileProvider) -> None:
    w = keys.wrap(os.urandom(32))
    bad = WrappedKey(w.provider, w.kek_id, w.ciphertext[:-1] + bytes([w.ciphertext[-1] ^ 1]))
    with pytest.raises(KeyProviderError):
        keys.unwrap(bad)


def test_blob_store_round_trip_and_no_plaintext(keys: LocalKeyFileProvider,
                                                tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", keys)
    marker = b"PLAINTEXT-MARKER-" * 4096
    sb = store.put_stream("calls/abc/original", [marker[:1000], marker[1000:]])
    assert sb.size == len(marker)
    assert store.read_all(sb.key, sb.wrapped_key, expected_sha256=sb.sha256) == marker
    for f in (tmp_path / "blobs").rglob("*"):
        if f.is_file():
            assert b"PLAINTEXT-MARKER" not in f.read_bytes()
            assert stat.S_IMODE(f.stat().st_mode) == 0o600
    with pytest.raises(BlobIntegrityError, match="content hash"):
        store.read_all(sb.key, sb.wrapped_key, expected_sha256="0" * 64)
    assert list(store.keys()) == ["calls/abc/original"]
    store.delete(sb.key)
    assert not store.exists(sb.key) and list(store.keys()) == []


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "calls/../../x", "a b", "",
                                 "calls/.x.partial-1"])
def test_path_traversal_rejected(keys: LocalKeyFileProvider, tmp_path: Path, key: str) -> None:
    with pytest.raises(BlobStoreError, match="invalid blob key"):
        LocalBlobStore(tmp_path / "blobs", keys).put_stream(key, [b"x"])


def test_upload_limit_leaves_no_partial(keys: LocalKeyFileProvider, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", keys)
    with pytest.raises(BlobTooLargeError, match="upload limit"):
        store.put_stream("calls/x/original", [b"x" * 600, b"y" * 600], max_bytes=1000)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_missing_blob(keys: LocalKeyFileProvider, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", keys)
    with pytest.raises(BlobStoreError, match="missing"):
        store.open("calls/nothing/original", keys.wrap(os.urandom(32)))
