"""Backup → erase → restore: the restored installation has the same calls, except
those erased after the backup, which stay unreadable."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.cli.main import app
from tests.helpers import tone_wav, write_transcript

runner = CliRunner()


def _call(rt, seed: int) -> str:  # type: ignore[no-untyped-def]
    cid = ingest_stream(rt, [tone_wav(1.0, seed=seed)], name=f"b{seed}.wav",
                        actor=Principal.cli(), meta=parse_metadata('{"agent": "sato"}')).call_id
    write_transcript(rt, cid, [("customer", 0.1, 0.9, f"バックアップ試験{seed}")])
    return cid


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_backup_erase_restore(installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              database_url) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    keep, erase = _call(rt, 91), _call(rt, 92)
    bfile = tmp_path / "backup.zip"
    r = _run("backup", "create", str(bfile), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["calls"] == 2
    assert _run("backup", "verify", str(bfile)).exit_code == 0
    assert _run("backup", "create", str(bfile)).exit_code == 1  # never overwrites
    # no plaintext audio in the backup: the recordings are the encrypted blobs
    raw = tone_wav(1.0, seed=91)
    assert raw[2000:2064] not in bfile.read_bytes()
    # nor a transcript or a customer's metadata in the clear: the rows are encrypted
    assert "バックアップ試験91".encode() not in bfile.read_bytes()
    assert b'"sato"' not in bfile.read_bytes()
    with zipfile.ZipFile(bfile) as zf:
        assert "db/calls.jsonl.enc" in zf.namelist()

    assert _run("calls", "delete", erase, "--reason", "erasure request").exit_code == 0

    # a fresh machine: new ROKUON_HOME (and database), the key folder copied over
    home2 = tmp_path / "home2"
    (home2 / "keys").mkdir(parents=True)
    for f in rt.settings.key_file.parent.iterdir():
        shutil.copy2(f, home2 / "keys" / f.name)
    monkeypatch.setenv("ROKUON_HOME", str(home2))
    if database_url:  # PostgreSQL: restore into a fresh schema
        import uuid

        import sqlalchemy as sa

        schema = f"t_{uuid.uuid4().hex[:12]}"
        base = database_url.split("?")[0]
        eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
        monkeypatch.setenv("ROKUON_DATABASE_URL",
                           f"{base}?options=-csearch_path%3D{schema},public")
    r = _run("backup", "restore", str(bfile), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["reshredded"] == [erase]

    r = _run("calls", "list", "--json")
    assert [c["call_id"] for c in json.loads(r.stdout)["calls"]] == [keep]
    doc = json.loads(_run("calls", "show", keep, "--json").stdout)
    assert doc["segments"][0]["text"] == "バックアップ試験91"
    assert _run("calls", "show", erase, "--json").exit_code == 1
    assert json.loads(_run("search", "バックアップ試験92", "--json").stdout)["hits"] == []
    assert json.loads(_run("audit", "verify", "--json").stdout)["ok"] is True
    from rokuon.config import load_settings
    from rokuon.install import open_runtime
    from rokuon.store.keys import WrappedKey
    from rokuon.store.models import Call

    rt2 = open_runtime(load_settings())
    with rt2.db.session() as s:
        call = s.get(Call, keep)
        data = rt2.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key),
                                  expected_sha256=call.content_sha256)
    assert data == tone_wav(1.0, seed=91)
    rt2.close()


def test_damaged_backup_is_refused(installation, tmp_path: Path) -> None:
    _, rt = installation
    _call(rt, 93)
    bfile = tmp_path / "b.zip"
    assert _run("backup", "create", str(bfile)).exit_code == 0
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(bfile) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("blobs/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    r = _run("backup", "verify", str(damaged))
    assert r.exit_code == 1 and "does not match the manifest" in r.stderr
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert "not a readable rokuon backup" in _run("backup", "verify",
                                                  str(tmp_path / "junk.zip")).stderr


def test_backup_rows_need_the_backup_key(installation, tmp_path: Path) -> None:
    """The rows decrypt only with the backup's own key (wrapped by the KEK), and an
    altered member is refused by name rather than restored."""
    from rokuon.compliance import backup

    _, rt = installation
    _call(rt, 94)
    bfile = tmp_path / "k.zip"
    assert _run("backup", "create", str(bfile)).exit_code == 0
    with zipfile.ZipFile(bfile) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        sealed = zf.read("db/segments.jsonl.enc")
    dek = backup._backup_key(rt, manifest)
    assert dek is not None
    assert "バックアップ試験94" in backup._open(dek, "db/segments.jsonl.enc", sealed).decode()
    with pytest.raises(backup.BackupError, match="db/segments.jsonl.enc"):
        backup._open(dek, "db/segments.jsonl.enc", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(backup.BackupError, match="db/calls.jsonl.enc"):
        backup._open(dek, "db/calls.jsonl.enc", sealed)  # a member moved under another name
    manifest["db_key"] = manifest["db_key"].replace(manifest["db_key"][40:48], "AAAAAAAA")
    with pytest.raises(backup.BackupError, match="cannot be decrypted"):
        backup._backup_key(rt, manifest)
