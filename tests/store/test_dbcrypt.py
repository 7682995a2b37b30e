"""The embedded database is encrypted at rest (SQLCipher, store/dbcrypt.py): nothing of
it reads as text, an old unencrypted file is encrypted in place, the key rotates with
the KEK, and a missing or wrong key is a one-line error, never a new empty database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.config import load_settings
from rokuon.install import init_installation, open_runtime
from rokuon.store import dbcrypt
from rokuon.store.models import User

MARK = "customer-note-0354441212"  # ASCII: JSON detail escapes other characters


def _files(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir()
                    if p.name.startswith("rokuon.db"))


def _write_marker(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        audit.record(s, Principal.cli(), "test.note", object_type="call", object_id="x",
                     detail={"note": MARK})


@pytest.fixture
def sqlite_home(settings):  # type: ignore[no-untyped-def]
    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the embedded SQLite database only")
    return settings


def test_nothing_of_the_database_reads_as_text(sqlite_home, rt) -> None:  # type: ignore[no-untyped-def]
    _write_marker(rt)
    home = sqlite_home.home
    db = home / "rokuon.db"
    assert db.read_bytes()[:16] != dbcrypt.PLAIN_HEADER
    assert db.stat().st_mode & 0o777 == 0o600
    data = _files(home)  # the file and its WAL, as a thief would copy them
    for needle in (MARK.encode(), b"admin@example.com", b"CREATE TABLE",
                   b"alembic_version"):
        assert needle not in data
    # … while the installation reads it as usual
    with rt.db.session() as s:
        notes = s.execute(text("SELECT detail FROM audit_log")).scalars().all()
        assert any(MARK in str(n) for n in notes)
    key_doc = json.loads((home / "keys" / dbcrypt.KEY_FILE).read_text())
    assert set(key_doc) == {"p", "k", "c"}  # wrapped by the KEK, never the raw key
    assert (home / "keys" / dbcrypt.KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_an_unencrypted_database_is_encrypted_in_place(sqlite_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROKUON_DATABASE_ENCRYPTION", "false")
    init_installation(load_settings(), "admin@example.com")
    rt = open_runtime(load_settings())
    _write_marker(rt)
    rt.close()
    db = sqlite_home.home / "rokuon.db"
    assert db.read_bytes()[:16] == dbcrypt.PLAIN_HEADER and MARK.encode() in _files(
        sqlite_home.home)  # what older versions left on disk
    monkeypatch.delenv("ROKUON_DATABASE_ENCRYPTION")
    rt = open_runtime(load_settings())
    try:
        assert db.read_bytes()[:16] != dbcrypt.PLAIN_HEADER
        assert MARK.encode() not in _files(sqlite_home.home)
        assert not (sqlite_home.home / ".rokuon.db.encrypting").exists()
        with rt.db.session() as s:  # every row is still there
            assert s.scalar(select(User.email)) == "admin@example.com"
            details = s.execute(text("SELECT detail FROM audit_log")).scalars().all()
            assert any(MARK in str(d) for d in details)
        with rt.db.session() as s:
            assert audit.verify(s).ok
    finally:
        rt.close()


def test_kek_rotation_rewraps_the_database_key(sqlite_home, rt) -> None:  # type: ignore[no-untyped-def]
    from rokuon.store.rotation import rotate_kek

    path = sqlite_home.home / "keys" / dbcrypt.KEY_FILE
    before = json.loads(path.read_text())["k"]
    new_id, _ = rotate_kek(rt, Principal.cli())
    assert json.loads(path.read_text())["k"] == new_id != before
    rt.close()
    again = open_runtime(load_settings())  # a new process: unwraps with the new KEK
    try:
        with again.db.session() as s:
            assert s.scalar(select(User.email)) == "admin@example.com"
    finally:
        again.close()


def test_a_missing_or_wrong_key_is_a_clear_error(sqlite_home, rt) -> None:  # type: ignore[no-untyped-def]
    rt.close()
    path = sqlite_home.home / "keys" / dbcrypt.KEY_FILE
    saved = path.read_bytes()
    path.unlink()
    with pytest.raises(dbcrypt.DatabaseKeyError, match="is encrypted but .*missing"):
        open_runtime(load_settings())
    assert not path.exists()  # no new key was made for an existing database
    # another key (as if the file came from another installation)
    from rokuon.store.keys import LocalKeyFileProvider

    other = LocalKeyFileProvider(sqlite_home.key_file)
    dbcrypt.database_key(path.parent, other, create=True)
    with pytest.raises(dbcrypt.DatabaseKeyError, match="does not open with the key"):
        open_runtime(load_settings())
    path.write_bytes(saved)
    os.chmod(path, 0o644)
    with pytest.raises(dbcrypt.DatabaseKeyError, match="0644.*chmod 600"):
        open_runtime(load_settings())
    os.chmod(path, 0o600)
    ok = open_runtime(load_settings())
    ok.close()
