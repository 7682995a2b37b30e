"""End to end with the S3 blob store against a real S3 wire-protocol server: a call from
tests/data/calls is ingested (only ciphertext reaches the bucket), played back by byte
range through the web API, backed up (the backup holds the bucket's objects), erased
(the object is gone) and restored into a fresh installation on another prefix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream
from rokuon.calls.metadata import parse_metadata
from rokuon.cli.main import app
from rokuon.web.app import create_app
from tests.store.test_blobs_s3 import bucket, moto_endpoint, s3_env  # noqa: F401
from tests.web.conftest import make_user, sign_in

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data" / "calls" / "01_billing_inquiry"
META = '{"agent": "sato", "team": "A", "purposes": ["quality"]}'


def _objects(endpoint: str, name: str, prefix: str) -> dict[str, bytes]:
    c = boto3.client("s3", endpoint_url=endpoint)
    return {o["Key"]: c.get_object(Bucket=name, Key=o["Key"])["Body"].read()
            for o in c.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents", [])}


@pytest.fixture
def s3_home(bucket, s3_env, monkeypatch):  # type: ignore[no-untyped-def]  # noqa: F811
    monkeypatch.setenv("ROKUON_BLOB_URL", f"s3://{bucket}/site-a")
    return bucket


def test_ingest_play_backup_erase_restore_on_s3(s3_home, installation, s3_env, tmp_path,  # noqa: F811
                                                monkeypatch, database_url) -> None:  # type: ignore[no-untyped-def]
    bkt = s3_home
    _, rt = installation
    from rokuon.store.blobs_s3 import S3BlobStore

    assert isinstance(rt.blobs, S3BlobStore)
    audio = (DATA / "stereo.wav").read_bytes()
    keep = ingest_stream(rt, [audio], name="stereo.wav", actor=Principal.cli(),
                         meta=parse_metadata(META)).call_id
    other = (DATA.parent / "02_consent_refused" / "stereo.wav").read_bytes()
    gone = ingest_stream(rt, [other], name="other.wav",
                         actor=Principal.cli(), meta=parse_metadata(META)).call_id
    objs = _objects(s3_env, bkt, "site-a/")
    assert len(objs) == 2 and all(k.startswith("site-a/") for k in objs)
    for raw in objs.values():  # the bucket never sees plaintext
        assert audio[4000:4064] not in raw and b"RIFF" not in raw[:64]

    # playback through the web API, by byte range, from the bucket
    make_user(rt, "sato@example.com", "operator", agent_name="sato")
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        sign_in(c, "sato@example.com", None)
        url = f"/api/calls/{keep}/audio"
        full = c.get(url, params={"purpose": "quality"})
        assert full.status_code == 200 and len(full.content) > 1000
        part = c.get(url, params={"purpose": "quality"},
                     headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == full.content[1000:2000]

    # backup holds the bucket's objects (encrypted, byte for byte)
    bfile = tmp_path / "backup.zip"
    r = runner.invoke(app, ["backup", "create", str(bfile), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["calls"] == 2
    assert audio[4000:4064] not in bfile.read_bytes()

    # erasure: the object is gone from the bucket
    r = runner.invoke(app, ["calls", "delete", gone, "--reason", "erasure request"])
    assert r.exit_code == 0, r.stderr
    left = _objects(s3_env, bkt, "site-a/")
    assert len(left) == 1 and not any(gone in k for k in left)

    # restore into a fresh installation whose blobs live under another prefix
    home2 = tmp_path / "home2"
    (home2 / "keys").mkdir(parents=True)
    for f in rt.settings.key_file.parent.iterdir():
        shutil.copy2(f, home2 / "keys" / f.name)
    monkeypatch.setenv("ROKUON_HOME", str(home2))
    monkeypatch.setenv("ROKUON_BLOB_URL", f"s3://{bkt}/site-b")
    if database_url:
        import uuid

        import sqlalchemy as sa

        schema = f"t_{uuid.uuid4().hex[:12]}"
        base = database_url.split("?")[0]
        eng = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        eng.dispose()
        monkeypatch.setenv("ROKUON_DATABASE_URL",
                           f"{base}?options=-csearch_path%3D{schema},public")
    r = runner.invoke(app, ["backup", "restore", str(bfile), "--json"])
    assert r.exit_code == 0, r.stderr + r.stdout
    assert json.loads(r.stdout)["reshredded"] == [gone]
    restored = _objects(s3_env, bkt, "site-b/")
    assert len(restored) == 1 and all(gone not in k for k in restored)  # re-shredded

    from rokuon.config import load_settings
    from rokuon.install import open_runtime
    from rokuon.store.keys import WrappedKey
    from rokuon.store.models import Call

    rt2 = open_runtime(load_settings())
    try:
        with rt2.db.session() as s:
            call = s.get(Call, keep)
            data = rt2.blobs.read_all(call.blob_key, WrappedKey.from_json(call.wrapped_key),
                                      expected_sha256=call.content_sha256)
        assert data == audio
    finally:
        rt2.close()
