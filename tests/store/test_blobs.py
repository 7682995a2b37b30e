"""The local blob store: round trips, no plaintext on disk, atomic writes, limits, errors."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import rokuon.store.blobs as blobs_mod
from rokuon.store.blobcrypt import DEFAULT_CHUNK_SIZE, BlobIntegrityError, ciphertext_size
from rokuon.store.blobs import (
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    BlobTooLargeError,
    LocalBlobStore,
    human_size,
    make_blob_store,
    validate_key,
)
from rokuon.store.keys import KeyProviderError, LocalKeyFileProvider, WrappedKey, rewrap

KEY = "calls/0f1e2d3c/original"
MARKER = b"~PLAINTEXT-AUDIO-MARKER~"
CS = DEFAULT_CHUNK_SIZE


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider.create(tmp_path / "kek.json")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path, keys: LocalKeyFileProvider) -> LocalBlobStore:
    return LocalBlobStore(root, keys)


def pieces(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_no_plaintext(root: Path, marker: bytes = MARKER) -> None:
    for f in files_under(root):
        blob = f.read_bytes()
        assert marker not in blob, f
        assert marker[:12] not in blob, f


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


# -- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, CS - 1, CS, CS + 1, 3 * 2**20 + 11])
def test_round_trip(store: LocalBlobStore, size: int) -> None:
    data = os.urandom(size)
    sb = store.put_stream(KEY, pieces(data, 7_777))
    assert sb.key == KEY and sb.size == size
    assert sb.sha256 == hashlib.sha256(data).hexdigest()
    assert store.exists(KEY) and list(store.keys()) == [KEY]
    assert store.size_on_disk(KEY) == ciphertext_size(size)
    assert store.read_all(KEY, sb.wrapped_key, expected_sha256=sb.sha256) == data
    assert store.read_all(KEY, sb.wrapped_key, expected_sha256=sb.sha256.upper()) == data
    with store.open(KEY, sb.wrapped_key) as r:
        assert r.size == size and r.name == KEY
        assert r.read() == data


def test_random_access_through_the_store(store: LocalBlobStore) -> None:
    data = os.urandom(5 * CS + 999)
    sb = store.put_stream(KEY, pieces(data, 4096))
    rng = random.Random(7)
    with store.open(KEY, sb.wrapped_key) as r:
        for _ in range(500):
            off = rng.randrange(len(data))
            n = rng.randrange(1, 2 * CS)
            r.seek(off)
            assert r.read(n) == data[off:off + n]
        for k in range(1, 6):  # every chunk boundary, like HTTP Range requests
            r.seek(k * CS - 3)
            assert r.read(6) == data[k * CS - 3:k * CS + 3]


def test_wrapped_key_survives_the_database_column(store: LocalBlobStore) -> None:
    sb = store.put_stream(KEY, [b"abc"])
    column = sb.wrapped_key.to_json()
    assert store.read_all(KEY, WrappedKey.from_json(column)) == b"abc"


def test_every_blob_has_its_own_key(store: LocalBlobStore) -> None:
    a = store.put_stream("calls/a/original", [b"same audio" * 100])
    b = store.put_stream("calls/b/original", [b"same audio" * 100])
    assert a.wrapped_key != b.wrapped_key
    assert (store.root / a.key).read_bytes() != (store.root / b.key).read_bytes()
    with pytest.raises(BlobIntegrityError):
        store.open(b.key, a.wrapped_key)


def test_put_replaces_an_existing_blob(store: LocalBlobStore) -> None:
    old = store.put_stream(KEY, [b"old"])
    new = store.put_stream(KEY, [b"new audio"])
    assert store.read_all(KEY, new.wrapped_key) == b"new audio"
    with pytest.raises(BlobIntegrityError):
        store.read_all(KEY, old.wrapped_key)


def test_content_hash_mismatch_names_the_key(store: LocalBlobStore) -> None:
    sb = store.put_stream(KEY, [b"audio"])
    with pytest.raises(BlobIntegrityError, match=f"{KEY}: content hash does not match"):
        store.read_all(KEY, sb.wrapped_key, expected_sha256="0" * 64)


def test_tampered_and_truncated_files_are_detected(store: LocalBlobStore) -> None:
    sb = store.put_stream(KEY, [os.urandom(3 * CS)])
    path = store.root / KEY
    original = path.read_bytes()
    b = bytearray(original)
    b[100] ^= 1
    path.write_bytes(bytes(b))
    with pytest.raises(BlobIntegrityError, match=KEY):
        store.read_all(KEY, sb.wrapped_key)
    path.write_bytes(original[:-20])
    with pytest.raises(BlobIntegrityError, match=KEY):
        store.open(KEY, sb.wrapped_key)
    path.write_bytes(original)
    assert len(store.read_all(KEY, sb.wrapped_key)) == 3 * CS


# -- plaintext never touches the disk -----------------------------------------------------------

def test_no_plaintext_on_disk_while_and_after_writing(store: LocalBlobStore,
                                                      root: Path) -> None:
    data = MARKER * 200_000  # 4.8 MB of a known pattern
    seen_partial = []

    def stream() -> Iterator[bytes]:
        for i, piece in enumerate(pieces(data, 50_000)):
            if i and i % 10 == 0:
                partials = [f for f in files_under(root) if ".partial-" in f.name]
                seen_partial.extend(partials)
                assert all(f.name.startswith(".") and mode(f) == 0o600 for f in partials)
                assert_no_plaintext(root)  # the partial file too
            yield piece

    sb = store.put_stream(KEY, stream())
    assert seen_partial, "the stream should have been written to a partial file"
    assert files_under(root) == [root / KEY]
    assert_no_plaintext(root)
    with store.open(KEY, sb.wrapped_key) as r:
        r.seek(12345)
        assert r.read(10) == data[12345:12355]
    assert_no_plaintext(root)  # reading writes nothing either
    assert files_under(root) == [root / KEY]


def test_modes_are_0700_and_0600_whatever_the_umask(store: LocalBlobStore, root: Path) -> None:
    old = os.umask(0)
    try:
        store.put_stream(KEY, [b"x" * 100])
        store.put_stream("exports/2026/report.csv", [b"y"])
    finally:
        os.umask(old)
    assert mode(root) == 0o700
    for p in root.rglob("*"):
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p


# -- failures leave nothing behind --------------------------------------------------------------

def test_upload_limit(store: LocalBlobStore, root: Path) -> None:
    pulled = []

    def stream() -> Iterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield b"x" * 600

    with pytest.raises(BlobTooLargeError) as err:
        store.put_stream(KEY, stream(), max_bytes=1000)
    assert str(err.value) == "recording exceeds the upload limit of 1000 bytes"
    assert pulled == [0, 1]  # stops at once
    assert files_under(root) == [] and not store.exists(KEY)
    sb = store.put_stream(KEY, [b"x" * 600, b"y" * 400], max_bytes=1000)  # exactly the limit
    assert sb.size == 1000


def test_upload_limit_message_in_mib(store: LocalBlobStore, root: Path) -> None:
    class Huge(bytes):  # announces 500 MiB + 1 without allocating it
        def __len__(self) -> int:
            return 500 * 2**20 + 1

    with pytest.raises(BlobTooLargeError) as err:
        store.put_stream(KEY, [b"x", Huge()], max_bytes=500 * 2**20)
    assert str(err.value) == "recording exceeds the upload limit of 500 MiB"
    assert files_under(root) == []


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1000, 2048, 1536 * 1024, 2**30, 3 * 2**30 // 2)] == [
        "0 bytes", "1000 bytes", "2 KiB", "1.5 MiB", "1 GiB", "1.5 GiB"]


class FullDisk:
    """A partial file on a disk that fills up after ``room`` bytes."""

    def __init__(self, fh, room: int, err: int = errno.ENOSPC) -> None:  # type: ignore[no-untyped-def]
        self.fh, self.room, self.err = fh, room, err

    def write(self, data: bytes) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(self.err, os.strerror(self.err))
        return self.fh.write(data)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.fh, name)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def install(room: int, err: int = errno.ENOSPC) -> None:
        real = blobs_mod._open_partial
        monkeypatch.setattr(blobs_mod, "_open_partial", lambda p: FullDisk(real(p), room, err))
    return install


@pytest.mark.parametrize("room", [0, 10, 100_000])
def test_disk_full_leaves_no_partial(store: LocalBlobStore, root: Path, full_disk,  # type: ignore[no-untyped-def]
                                     room: int) -> None:
    full_disk(room)
    with pytest.raises(BlobStoreError) as err:
        store.put_stream(KEY, pieces(os.urandom(500_000)))
    msg = str(err.value)
    assert msg.startswith(f"disk full while writing {KEY} under {root}") and "\n" not in msg
    assert isinstance(err.value.__cause__, OSError)
    assert files_under(root) == [] and not store.exists(KEY)


def test_other_write_errors_are_named(store: LocalBlobStore, root: Path, full_disk) -> None:  # type: ignore[no-untyped-def]
    full_disk(1000, errno.EIO)
    with pytest.raises(BlobStoreError, match=f"cannot write {KEY} under .*: Input/output error"):
        store.put_stream(KEY, [b"x" * 5000])
    assert files_under(root) == []


def test_disk_full_at_fsync(store: LocalBlobStore, root: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_mod.os, "fsync", fail)
    with pytest.raises(BlobStoreError, match="disk full while writing"):
        store.put_stream(KEY, [b"x" * 5000])
    monkeypatch.undo()
    assert files_under(root) == []


def test_disk_full_creating_folders(store: LocalBlobStore, root: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root.mkdir(mode=0o700)

    def fail(path: object, mode: int = 0o777) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_mod.os, "mkdir", fail)
    with pytest.raises(BlobStoreError, match="disk full while writing"):
        store.put_stream(KEY, [b"x"])
    monkeypatch.undo()
    assert files_under(root) == []


def test_source_errors_pass_through_and_leave_nothing(store: LocalBlobStore,
                                                      root: Path) -> None:
    def broken_upload() -> Iterator[bytes]:
        yield b"x" * 200_000
        raise OSError(errno.ECONNRESET, "Connection reset by peer")

    with pytest.raises(OSError) as err:
        store.put_stream(KEY, broken_upload())
    assert not isinstance(err.value, BlobStoreError) and err.value.errno == errno.ECONNRESET
    assert files_under(root) == []

    def cancelled() -> Iterator[bytes]:
        yield b"y" * 100_000
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_stream(KEY, cancelled())
    assert files_under(root) == []


def test_key_provider_failure_writes_nothing(root: Path, keys: LocalKeyFileProvider) -> None:
    keys.path.unlink()  # the key file vanished after start
    store = LocalBlobStore(root, keys)
    with pytest.raises(KeyProviderError, match="not found"):
        store.put_stream(KEY, [MARKER])
    assert files_under(root) == []


# -- keys and paths -----------------------------------------------------------------------------

BAD_KEYS = ["../x", "/etc/passwd", "calls/../../x", "calls/..", "..", ".", "calls/./x",
            "./calls/x", ".hidden", "calls/.x.partial-1", "a b", "", "calls/", "/calls",
            "calls//x", "a\\b", "a\x00b", "calls/x\n", "録音/x", "c:/x", "x" * 600,
            "/".join(["a"] * 17)]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_rejected_everywhere(store: LocalBlobStore, tmp_path: Path,
                                          keys: LocalKeyFileProvider, key: str) -> None:
    w = keys.wrap(os.urandom(32))
    ops = [lambda: store.put_stream(key, [b"x"]), lambda: store.open(key, w),
           lambda: store.read_all(key, w), lambda: store.delete(key),
           lambda: store.exists(key), lambda: store.size_on_disk(key)]
    for op in ops:
        with pytest.raises(BlobStoreError, match="invalid blob key"):
            op()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kek.json"]  # nothing created


@pytest.mark.parametrize("key", ["calls/0f1e/original", "a", "calls/x/original.wav",
                                 "exports/2026-01/report_v2.csv", "A-b_c/d.e.f"])
def test_good_keys(key: str) -> None:
    assert validate_key(key) == key


def test_keys_delete_and_housekeeping(store: LocalBlobStore, root: Path,
                                      keys: LocalKeyFileProvider) -> None:
    assert list(store.keys()) == [] and not store.exists(KEY)
    a = store.put_stream("calls/a/original", [b"a"])
    store.put_stream("calls/b/original", [b"b"])
    (root / "calls" / "b" / ".original.partial-deadbeef").write_bytes(b"junk")
    assert list(store.keys()) == ["calls/a/original", "calls/b/original"]
    store.delete("calls/a/original")
    assert not store.exists("calls/a/original")
    assert not (root / "calls" / "a").exists()  # the call's empty folder goes too
    assert root.is_dir() and (root / "calls" / "b").is_dir()
    store.delete("calls/a/original")  # already gone: no error
    with pytest.raises(BlobNotFoundError, match="calls/a/original is missing"):
        store.open("calls/a/original", a.wrapped_key)
    with pytest.raises(BlobNotFoundError):
        store.size_on_disk("calls/a/original")
    assert not store.exists("calls")  # a folder is not a blob


def test_open_a_folder(store: LocalBlobStore, keys: LocalKeyFileProvider) -> None:
    store.put_stream(KEY, [b"x"])
    with pytest.raises(BlobStoreError, match="cannot read calls"):
        store.open("calls/0f1e2d3c", keys.wrap(os.urandom(32)))


def test_sweep_partials(store: LocalBlobStore, root: Path) -> None:
    assert store.sweep_partials() == []  # no root yet
    store.put_stream(KEY, [b"keep"])
    folder = root / "calls" / "0f1e2d3c"
    old, fresh = folder / ".original.partial-aaaa", folder / ".original.partial-bbbb"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert store.sweep_partials(older_than_s=600) == [old]
    assert fresh.exists() and store.exists(KEY)
    assert store.sweep_partials(older_than_s=0) == [fresh]
    assert files_under(root) == [root / KEY]


# -- key rotation without re-encrypting the audio ----------------------------------------------

def test_rotation_rewraps_without_touching_the_blob(store: LocalBlobStore,
                                                    keys: LocalKeyFileProvider) -> None:
    data = os.urandom(2 * CS + 5)
    sb = store.put_stream(KEY, [data])
    before = (store.root / KEY).read_bytes()
    new_kek = keys.rotate()
    assert store.read_all(KEY, sb.wrapped_key) == data  # old KEK still unwraps
    moved = rewrap(keys, sb.wrapped_key)
    assert moved.kek_id == new_kek != sb.wrapped_key.kek_id
    assert store.read_all(KEY, moved, expected_sha256=sb.sha256) == data
    assert (store.root / KEY).read_bytes() == before
    assert store.put_stream("calls/new/original", [b"n"]).wrapped_key.kek_id == new_kek


# -- the registry -------------------------------------------------------------------------------

def test_make_blob_store(root: Path, keys: LocalKeyFileProvider) -> None:
    s: BlobStore = make_blob_store("local", root=root, keys=keys)
    assert isinstance(s, LocalBlobStore) and s.root == root
    sb = s.put_stream(KEY, [b"x"])
    assert s.read_all(KEY, sb.wrapped_key) == b"x"
    with pytest.raises(BlobStoreError, match=r"unknown blob store 's3' \(available: local\)"):
        make_blob_store("s3", root=root, keys=keys)
    with pytest.raises(BlobStoreError, match="bad options"):
        make_blob_store("local", root=root)
