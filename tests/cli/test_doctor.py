"""`rokuon doctor`: one line per problem, exit 1 on an error, --json; against a real
database, a real S3 wire-protocol server and the real broker."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from rokuon.cli.main import app
from rokuon.config import load_settings
from rokuon.doctor import startup_problems
from rokuon.install import open_runtime
from tests.store.test_blobs_s3 import bucket, moto_endpoint, s3_env  # noqa: F401

runner = CliRunner()


def _doctor() -> tuple[int, dict]:  # type: ignore[type-arg]
    r = runner.invoke(app, ["doctor", "--json"])
    return r.exit_code, json.loads(r.stdout)


def _by_check(doc: dict, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [c for c in doc["checks"] if c["check"] == name]


def test_healthy_local_installation(installation, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ROKUON_BROKER_URL", raising=False)
    code, doc = _doctor()
    assert code == 0, doc
    assert doc["ok"] is True
    for name in ("config", "database", "keys", "blobs"):
        assert [c["status"] for c in _by_check(doc, name)] == ["ok"], doc
    assert not _by_check(doc, "broker")  # none configured
    r = runner.invoke(app, ["doctor"])
    assert r.exit_code == 0 and "OK    database:" in r.stdout


def test_not_initialised(settings) -> None:  # type: ignore[no-untyped-def]
    code, doc = _doctor()
    assert code == 1
    assert "rokuon init" in doc["checks"][0]["message"]


def test_missing_bucket_is_an_error_also_at_startup(installation, s3_env,  # noqa: F811
                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROKUON_BLOB_URL", "s3://no-such-bucket-doctor/rec")
    code, doc = _doctor()
    assert code == 1
    (blobs,) = _by_check(doc, "blobs")
    assert blobs["status"] == "error" and "no-such-bucket-doctor" in blobs["message"] \
        and "does not exist" in blobs["message"]
    r = runner.invoke(app, ["doctor"])
    assert r.exit_code == 1 and "ERROR blobs: bucket 'no-such-bucket-doctor'" in r.stderr
    rt = open_runtime(load_settings())
    try:
        assert any("does not exist" in p for p in startup_problems(rt))
    finally:
        rt.close()


def test_versioned_bucket_warns(installation, bucket, s3_env,  # noqa: F811
                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = boto3.client("s3", endpoint_url=s3_env)
    monkeypatch.setenv("ROKUON_BLOB_URL", f"s3://{bucket}/rec")
    code, doc = _doctor()
    assert code == 0 and [c["status"] for c in _by_check(doc, "blobs")] == ["ok"], doc
    client.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [{"ID": "expire-30", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Expiration": {"Days": 30}}]})
    code, doc = _doctor()
    assert code == 0  # warnings only
    msgs = [c["message"] for c in _by_check(doc, "blobs") if c["status"] == "warn"]
    assert any("versioning enabled" in m for m in msgs), msgs
    assert any("expire-30" in m and "30 days" in m for m in msgs), msgs
    assert doc["warnings"] >= 2


def test_unreachable_endpoint(installation, s3_env, monkeypatch) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROKUON_BLOB_URL", "s3://anything/rec")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, doc = _doctor()
    assert code == 1
    (blobs,) = _by_check(doc, "blobs")
    assert "cannot reach the S3 endpoint" in blobs["message"]


@pytest.mark.parametrize("url,ok", [
    ("amqp://guest:guest@127.0.0.1:5672//", True),
    ("amqp://guest:wrong-password@127.0.0.1:5672//", False),
    ("amqp://guest:guest@127.0.0.1:1//", False),
    ("redis://127.0.0.1:6379/15", True),
])
def test_broker(installation, monkeypatch, url: str, ok: bool) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROKUON_BROKER_URL", url)
    code, doc = _doctor()
    (broker,) = _by_check(doc, "broker")
    assert (broker["status"] == "ok") is ok, broker
    assert (code == 0) is ok
    assert "wrong-password" not in json.dumps(doc)  # the password is never printed


def test_bad_blob_url_is_a_config_error(installation, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROKUON_BLOB_URL", "https://bucket.example/rec")
    code, doc = _doctor()
    assert code == 1
    first = doc["checks"][0]
    assert first["check"] == "config" and first["status"] == "error"
    assert "blob_url" in first["message"] and "s3://bucket/prefix" in first["message"]
