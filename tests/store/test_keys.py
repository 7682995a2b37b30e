"""Key providers: the local key file (protection, refusals, rotation), wrapped keys."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import rokuon.store.keys as keys_mod
from rokuon.store.keys import (
    KeyProvider,
    KeyProviderError,
    LocalKeyFileProvider,
    WrappedKey,
    make_key_provider,
    register_key_provider,
    rewrap,
)


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def kek_path(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    return folder / "kek.json"


@pytest.fixture
def provider(kek_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider.create(kek_path)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- creating the key file --------------------------------------------------------------------

def test_create_writes_a_0600_key_file(kek_path: Path, open_umask: None) -> None:
    p = LocalKeyFileProvider.create(kek_path)
    assert mode(kek_path) == 0o600
    doc = json.loads(kek_path.read_text())
    assert doc["version"] == 1 and list(doc["keys"]) == [doc["current"]]
    assert doc["current"].startswith("kek-") and p.current_kek_id() == doc["current"]
    assert len(base64.b64decode(doc["keys"][doc["current"]])) == 32
    assert sorted(os.listdir(kek_path.parent)) == ["kek.json"]  # no temp file left


def test_create_refuses_to_overwrite(provider: LocalKeyFileProvider, kek_path: Path) -> None:
    before = kek_path.read_bytes()
    with pytest.raises(KeyProviderError, match="already exists; refusing to overwrite"):
        LocalKeyFileProvider.create(kek_path)
    assert kek_path.read_bytes() == before
    empty = kek_path.with_name("empty.json")
    empty.touch()
    with pytest.raises(KeyProviderError, match="already exists"):
        LocalKeyFileProvider.create(empty)
    assert empty.read_bytes() == b""


def test_create_needs_the_folder(tmp_path: Path) -> None:
    with pytest.raises(KeyProviderError, match="does not exist"):
        LocalKeyFileProvider.create(tmp_path / "nope" / "kek.json")


def test_two_key_files_differ(tmp_path: Path) -> None:
    a = LocalKeyFileProvider.create(tmp_path / "a.json")
    b = LocalKeyFileProvider.create(tmp_path / "b.json")
    with pytest.raises(KeyProviderError):
        b.unwrap(WrappedKey("local", b.current_kek_id(),
                            a.wrap(os.urandom(32)).ciphertext))


# -- refusing to start ------------------------------------------------------------------------

@pytest.mark.parametrize("perm", [0o644, 0o640, 0o604, 0o660, 0o666, 0o601, 0o610])
def test_refuses_a_key_file_open_to_others(provider: LocalKeyFileProvider, kek_path: Path,
                                           perm: int) -> None:
    os.chmod(kek_path, perm)
    with pytest.raises(KeyProviderError) as err:
        LocalKeyFileProvider(kek_path)
    assert str(err.value) == (f"key file {kek_path} has permissions {perm:04o}; it must be "
                              f"0600 (run: chmod 600 {kek_path})")


@pytest.mark.parametrize("perm", [0o600, 0o400])
def test_accepts_owner_only_permissions(provider: LocalKeyFileProvider, kek_path: Path,
                                        perm: int) -> None:
    os.chmod(kek_path, perm)
    assert LocalKeyFileProvider(kek_path).current_kek_id() == provider.current_kek_id()


def test_missing_key_file(tmp_path: Path) -> None:
    p = tmp_path / "kek.json"
    with pytest.raises(KeyProviderError) as err:
        LocalKeyFileProvider(p)
    msg = str(err.value)
    assert msg.startswith(f"key file {p} not found: ") and "\n" not in msg


def test_a_folder_is_not_a_key_file(tmp_path: Path) -> None:
    (tmp_path / "kek.json").mkdir(mode=0o700)
    with pytest.raises(KeyProviderError, match="not a regular file"):
        LocalKeyFileProvider(tmp_path / "kek.json")


KEY = base64.b64encode(b"k" * 32).decode()
MALFORMED = {
    "empty": "",
    "not json": "{not json",
    "not an object": "[]",
    "not utf-8": b"\xff\xfe{}",
    "no version": json.dumps({"current": "a", "keys": {"a": KEY}}),
    "version 2": json.dumps({"version": 2, "current": "a", "keys": {"a": KEY}}),
    "no keys": json.dumps({"version": 1, "current": "a", "keys": {}}),
    "keys a list": json.dumps({"version": 1, "current": "a", "keys": [KEY]}),
    "current missing": json.dumps({"version": 1, "current": "b", "keys": {"a": KEY}}),
    "current not a string": json.dumps({"version": 1, "current": 1, "keys": {"a": KEY}}),
    "not base64": json.dumps({"version": 1, "current": "a", "keys": {"a": "!!!"}}),
    "key not a string": json.dumps({"version": 1, "current": "a", "keys": {"a": 5}}),
    "short key": json.dumps({"version": 1, "current": "a",
                             "keys": {"a": base64.b64encode(b"k" * 16).decode()}}),
    "odd key id": json.dumps({"version": 1, "current": "a b", "keys": {"a b": KEY}}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_refuses_a_malformed_key_file(kek_path: Path, case: str) -> None:
    raw = MALFORMED[case]
    kek_path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    os.chmod(kek_path, 0o600)
    with pytest.raises(KeyProviderError) as err:
        LocalKeyFileProvider(kek_path)
    msg = str(err.value)
    assert msg.startswith(f"key file {kek_path} is malformed: ") and "\n" not in msg
    assert KEY not in msg


def test_a_good_hand_written_file_loads(kek_path: Path) -> None:
    kek_path.write_text(json.dumps({"version": 1, "current": "a", "keys": {"a": KEY}}))
    os.chmod(kek_path, 0o600)
    p = LocalKeyFileProvider(kek_path)
    assert p.current_kek_id() == "a" and p.kek_ids() == ["a"]


def test_key_material_is_not_in_reprs(provider: LocalKeyFileProvider, kek_path: Path) -> None:
    secret = json.loads(kek_path.read_text())["keys"][provider.current_kek_id()]
    w = provider.wrap(os.urandom(32))
    assert secret not in repr(provider) and secret not in repr(vars(provider))
    assert base64.b64encode(w.ciphertext).decode() not in repr(w)


# -- wrapping -----------------------------------------------------------------------------------

def test_wrap_unwrap(provider: LocalKeyFileProvider) -> None:
    dek = os.urandom(32)
    w1, w2 = provider.wrap(dek), provider.wrap(dek)
    assert w1.provider == "local" and w1.kek_id == provider.current_kek_id()
    assert len(w1.ciphertext) == 12 + 32 + 16
    assert w1.ciphertext != w2.ciphertext  # random nonce
    assert dek not in w1.ciphertext
    assert provider.unwrap(w1) == provider.unwrap(w2) == dek
    with pytest.raises(KeyProviderError, match="32 bytes"):
        provider.wrap(b"short")


def test_unwrap_refusals(provider: LocalKeyFileProvider) -> None:
    w = provider.wrap(os.urandom(32))
    c = w.ciphertext
    bad = {
        "tampered": WrappedKey("local", w.kek_id, c[:-1] + bytes([c[-1] ^ 1])),
        "tampered nonce": WrappedKey("local", w.kek_id, bytes([c[0] ^ 1]) + c[1:]),
        "truncated": WrappedKey("local", w.kek_id, c[:20]),
        "empty": WrappedKey("local", w.kek_id, b""),
        "unknown kek": WrappedKey("local", "kek-unknown", c),
        "other provider": WrappedKey("vault", w.kek_id, c),
    }
    for b in bad.values():
        with pytest.raises(KeyProviderError):
            provider.unwrap(b)


def test_kek_id_is_bound_to_the_wrapped_key(provider: LocalKeyFileProvider) -> None:
    w = provider.wrap(os.urandom(32))
    new = provider.rotate()
    with pytest.raises(KeyProviderError, match="does not unwrap"):
        provider.unwrap(WrappedKey("local", new, w.ciphertext))


def test_wrapped_key_json_round_trip(provider: LocalKeyFileProvider) -> None:
    w = provider.wrap(os.urandom(32))
    raw = w.to_json()
    assert " " not in raw and set(json.loads(raw)) == {"p", "k", "c"}
    assert WrappedKey.from_json(raw) == w
    assert WrappedKey.from_json(raw.encode()) == w


@pytest.mark.parametrize("raw", ["", "{}", "[]", "null", '{"p":"local","k":"x"}',
                                 '{"p":1,"k":"x","c":"AAAA"}', '{"p":"local","k":"x","c":"!!"}',
                                 '{"p":"local","k":"x","c":"AAA"}'])
def test_malformed_wrapped_key(raw: str) -> None:
    with pytest.raises(KeyProviderError, match="malformed wrapped key"):
        WrappedKey.from_json(raw)


# -- rotation -----------------------------------------------------------------------------------

def test_rotation_keeps_old_keys_and_rewrap_moves_data_keys(provider: LocalKeyFileProvider,
                                                           kek_path: Path) -> None:
    dek = os.urandom(32)
    old = provider.wrap(dek)
    new_id = provider.rotate()
    assert new_id != old.kek_id and provider.current_kek_id() == new_id
    assert provider.unwrap(old) == dek
    assert provider.wrap(dek).kek_id == new_id
    reloaded = LocalKeyFileProvider(kek_path)
    assert reloaded.current_kek_id() == new_id
    assert reloaded.kek_ids() == sorted([old.kek_id, new_id])
    assert reloaded.unwrap(old) == dek
    moved = rewrap(reloaded, old)
    assert moved.kek_id == new_id and moved.ciphertext != old.ciphertext
    assert reloaded.unwrap(moved) == dek
    again = rewrap(reloaded, moved)
    assert again.kek_id == new_id and reloaded.unwrap(again) == dek
    assert mode(kek_path) == 0o600
    assert sorted(os.listdir(kek_path.parent)) == ["kek.json"]
    third = provider.rotate()
    assert len(LocalKeyFileProvider(kek_path).kek_ids()) == 3
    assert rewrap(provider, moved).kek_id == third


def test_rotation_by_another_process_is_seen(provider: LocalKeyFileProvider,
                                             kek_path: Path) -> None:
    other = LocalKeyFileProvider(kek_path)  # e.g. the CLI, while the server runs
    dek = os.urandom(32)
    new_id = other.rotate()
    w = other.wrap(dek)
    assert w.kek_id == new_id
    assert provider.unwrap(w) == dek  # unknown KEK: the file is re-read
    assert provider.current_kek_id() == new_id
    assert provider.wrap(dek).kek_id == new_id


def test_rotation_keeps_keys_added_elsewhere(provider: LocalKeyFileProvider,
                                             kek_path: Path) -> None:
    other = LocalKeyFileProvider(kek_path)
    a = other.rotate()
    b = provider.rotate()  # starts from the file on disk, not from its stale copy
    assert set(LocalKeyFileProvider(kek_path).kek_ids()) >= {a, b}


def test_concurrent_rotations_lose_no_key(provider: LocalKeyFileProvider,
                                          kek_path: Path) -> None:
    rotators = [LocalKeyFileProvider(kek_path) for _ in range(6)]
    made: list[str] = []

    def run(p: LocalKeyFileProvider) -> None:
        for _ in range(3):
            made.append(p.rotate())

    threads = [threading.Thread(target=run, args=(p,)) for p in rotators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = LocalKeyFileProvider(kek_path).kek_ids()
    assert len(made) == 18 and set(made) <= set(on_disk) and len(on_disk) == 19
    assert sorted(os.listdir(kek_path.parent)) == ["kek.json"]


def test_rotation_under_an_open_umask(provider: LocalKeyFileProvider, kek_path: Path,
                                      open_umask: None) -> None:
    provider.rotate()
    assert mode(kek_path) == 0o600


def test_deleted_key_file_is_refused_not_ignored(provider: LocalKeyFileProvider,
                                                 kek_path: Path) -> None:
    kek_path.unlink()
    with pytest.raises(KeyProviderError, match="not found"):
        provider.wrap(os.urandom(32))


def test_rewrap_from_another_provider(provider: LocalKeyFileProvider, tmp_path: Path) -> None:
    target = LocalKeyFileProvider.create(tmp_path / "new.json")
    dek = os.urandom(32)
    moved = rewrap(target, provider.wrap(dek), source=provider)
    assert moved.kek_id == target.current_kek_id() and target.unwrap(moved) == dek


# -- the registry -------------------------------------------------------------------------------

def test_make_key_provider(provider: LocalKeyFileProvider, kek_path: Path,
                           tmp_path: Path) -> None:
    made = make_key_provider("local", path=kek_path)
    assert isinstance(made, LocalKeyFileProvider)
    assert made.current_kek_id() == provider.current_kek_id()
    with pytest.raises(KeyProviderError, match=r"unknown key provider 'kms-x' \(available: "):
        make_key_provider("kms-x")
    with pytest.raises(KeyProviderError, match="needs path"):
        make_key_provider("local")
    with pytest.raises(KeyProviderError, match="bad options"):
        make_key_provider("local", path=kek_path, url="https://vault")
    with pytest.raises(KeyProviderError, match="not found"):
        make_key_provider("local", path=tmp_path / "nope.json")


class MemoryProvider:
    """A stand-in for a future provider (Vault/OpenBao transit)."""

    name = "memory"

    def __init__(self, *, url: str) -> None:
        self.url = url

    def current_kek_id(self) -> str:
        return "m1"

    def wrap(self, dek: bytes) -> WrappedKey:
        return WrappedKey(self.name, "m1", bytes(b ^ 0x5A for b in dek))

    def unwrap(self, w: WrappedKey) -> bytes:
        return bytes(b ^ 0x5A for b in w.ciphertext)

    def rotate(self) -> str:
        return "m1"


def test_a_provider_plugs_in_without_touching_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_mod, "_PROVIDERS", dict(keys_mod._PROVIDERS))
    register_key_provider("memory", MemoryProvider)
    p: KeyProvider = make_key_provider("memory", url="http://x")
    dek = os.urandom(32)
    assert p.unwrap(p.wrap(dek)) == dek
