"""The S3 blob store against a real S3 wire-protocol server (moto's threaded server):
ciphertext only in the bucket, multipart for large blobs, ranged reads, erasure,
retries on server errors and nothing half-written when an upload fails."""

from __future__ import annotations

import hashlib
import http.server
import os
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from rokuon.store.blobcrypt import BlobIntegrityError
from rokuon.store.blobs import (
    BlobNotFoundError,
    BlobStoreError,
    BlobTooLargeError,
    make_blob_store,
)
from rokuon.store.blobs_s3 import MIN_PART_SIZE, S3BlobStore, make_client, parse_s3_url
from rokuon.store.keys import LocalKeyFileProvider


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint


@pytest.fixture
def bucket(s3_env: str) -> Iterator[str]:
    """A bucket of this test's own, emptied and removed afterwards."""
    name = f"rokuon-test-{secrets.token_hex(6)}"
    client = boto3.client("s3", endpoint_url=s3_env)
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    for u in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider.create(tmp_path / "kek.json")


def _raw_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint)
    out = {}
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        out[obj["Key"]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def _pieces(data: bytes, n: int = 100_000) -> Iterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i:i + n]


def test_url_parsing_and_factory(s3_env: str, keys: LocalKeyFileProvider) -> None:
    assert parse_s3_url("s3://b/a/b/") == ("b", "a/b")
    assert parse_s3_url("s3://b") == ("b", "")
    for bad in ("s3:///x", "http://b/x", "s3://b/../x"):
        with pytest.raises(BlobStoreError):
            parse_s3_url(bad)
    store = make_blob_store("s3://bkt/pre", root="/unused", keys=keys)
    assert isinstance(store, S3BlobStore) and store.object_key("calls/1/original") \
        == "pre/calls/1/original"
    with pytest.raises(BlobStoreError, match="ftp://"):
        make_blob_store("ftp://x/y", keys=keys)


def test_ciphertext_only_and_roundtrip(bucket: str, s3_env: str,
                                       keys: LocalKeyFileProvider) -> None:
    store = S3BlobStore(f"s3://{bucket}/rec", keys)
    plain = (b"RIFF-plaintext-marker-" * 5000) + os.urandom(1000)
    blob = store.put_stream("calls/a/original", _pieces(plain))
    assert blob.size == len(plain) and blob.sha256 == hashlib.sha256(plain).hexdigest()
    raw = _raw_objects(s3_env, bucket)
    assert list(raw) == ["rec/calls/a/original"]
    assert b"plaintext-marker" not in raw["rec/calls/a/original"]
    assert raw["rec/calls/a/original"][:4] != plain[:4]
    assert store.read_all("calls/a/original", blob.wrapped_key,
                          expected_sha256=blob.sha256) == plain
    assert store.exists("calls/a/original") and not store.exists("calls/b/original")
    assert list(store.keys()) == ["calls/a/original"]
    assert store.size_on_disk("calls/a/original") == len(raw["rec/calls/a/original"])
    assert abs(store.stored_at("calls/a/original") - time.time()) < 120  # the orphan sweep's age
    with pytest.raises(BlobIntegrityError):
        store.read_all("calls/a/original", blob.wrapped_key, expected_sha256="0" * 64)


def test_multipart_and_ranged_reads(bucket: str, s3_env: str,
                                    keys: LocalKeyFileProvider) -> None:
    store = S3BlobStore(f"s3://{bucket}", keys, part_size=MIN_PART_SIZE)
    plain = os.urandom(12 * 1024 * 1024 + 12345)  # three parts
    blob = store.put_stream("big", _pieces(plain, 1 << 20))
    obj = boto3.client("s3", endpoint_url=s3_env).head_object(Bucket=bucket, Key="big")
    assert obj["ETag"].strip('"').endswith("-3")  # a multipart object of three parts
    with store.open("big", blob.wrapped_key) as r:
        assert r.size == len(plain)
        r.seek(9_000_000)
        assert r.read(70_000) == plain[9_000_000:9_070_000]
        r.seek(100)
        assert r.read(10) == plain[100:110]
        assert r._src.gets <= 4  # type: ignore[attr-defined]  # ranged, not the whole


def test_too_large_and_failing_source_leave_nothing(bucket: str, s3_env: str,
                                                     keys: LocalKeyFileProvider) -> None:
    store = S3BlobStore(f"s3://{bucket}", keys, part_size=MIN_PART_SIZE)
    with pytest.raises(BlobTooLargeError):
        store.put_stream("x", _pieces(os.urandom(7 << 20), 1 << 20), max_bytes=6 << 20)

    def broken() -> Iterator[bytes]:
        yield os.urandom(6 << 20)
        raise OSError("client went away")

    with pytest.raises(OSError, match="went away"):
        store.put_stream("y", broken())
    assert _raw_objects(s3_env, bucket) == {}
    assert store.pending_uploads() == []  # the multipart uploads were aborted
    # a writer killed mid-upload leaves a multipart upload: swept once it is old
    boto3.client("s3", endpoint_url=s3_env).create_multipart_upload(Bucket=bucket, Key="z")
    # (moto reports every upload as initiated in 2010: "recent" is 100 years here)
    assert store.sweep_abandoned_partials(older_than_s=100 * 365 * 86400) == []
    assert store.sweep_abandoned_partials() == ["z"]
    assert store.pending_uploads() == []


def test_erase_removes_every_version(bucket: str, s3_env: str,
                                     keys: LocalKeyFileProvider) -> None:
    client = boto3.client("s3", endpoint_url=s3_env)
    client.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    store = S3BlobStore(f"s3://{bucket}", keys)
    store.put_stream("calls/c/original", [b"first"])
    blob = store.put_stream("calls/c/original", [b"second"])
    assert any("versioning enabled" in w for w in store.check().warnings)
    store.delete("calls/c/original")
    store.delete("calls/c/original")  # idempotent
    versions = client.list_object_versions(Bucket=bucket)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    with pytest.raises(BlobNotFoundError):
        store.open("calls/c/original", blob.wrapped_key)


class _FaultProxy(http.server.ThreadingHTTPServer):
    """Forwards to the S3 server; answers 500 InternalError to the first ``fail`` requests
    whose query matches ``match`` (a real S3 error body)."""

    def __init__(self, upstream: str, match: str, fail: int) -> None:
        self.upstream, self.match, self.fail, self.failed = upstream, match, fail, 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _FaultProxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        srv = self.server
        if srv.match in self.path and srv.failed < srv.fail:
            srv.failed += 1
            err = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError'
                   b"</Code><Message>We encountered an internal error. Please try again."
                   b"</Message></Error>")
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(err)))
            self.end_headers()
            self.wfile.write(err)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        # else urllib adds a form content type and the server would parse the body as one
        headers.setdefault("Content-Type", "application/octet-stream")
        req = urllib.request.Request(srv.upstream + self.path, data=body or None,
                                     method=self.command, headers=headers)
        try:
            resp = urllib.request.urlopen(req)  # noqa: S310 - the local test server
        except urllib.error.HTTPError as exc:
            resp = exc
        data = resp.read()
        self.send_response(resp.status)
        length = resp.headers.get("Content-Length") if self.command == "HEAD" else None
        for k, v in resp.headers.items():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@pytest.fixture
def proxy_factory(s3_env: str) -> Iterator:  # type: ignore[type-arg]
    servers: list[_FaultProxy] = []

    def make(match: str, fail: int) -> _FaultProxy:
        p = _FaultProxy(s3_env, match, fail)
        threading.Thread(target=p.serve_forever, daemon=True).start()
        servers.append(p)
        return p

    yield make
    for p in servers:
        p.shutdown()
        p.server_close()


def test_server_errors_are_retried(bucket: str, keys: LocalKeyFileProvider,
                                   proxy_factory) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory("partNumber=2", 2)
    client = make_client(endpoint_url=f"http://127.0.0.1:{proxy.server_address[1]}",
                         max_attempts=4)
    store = S3BlobStore(f"s3://{bucket}", keys, client=client, part_size=MIN_PART_SIZE)
    plain = os.urandom(11 << 20)
    blob = store.put_stream("r", _pieces(plain, 1 << 20))
    assert proxy.failed == 2  # part 2 failed twice, then went through
    assert store.read_all("r", blob.wrapped_key) == plain


def test_failed_upload_leaves_no_object(bucket: str, s3_env: str, keys: LocalKeyFileProvider,
                                        proxy_factory) -> None:  # type: ignore[no-untyped-def]
    store_ok = S3BlobStore(f"s3://{bucket}", keys)
    proxy = proxy_factory("uploadId=", 1000)  # every part and the completion fail
    client = make_client(endpoint_url=f"http://127.0.0.1:{proxy.server_address[1]}",
                         max_attempts=2)
    store = S3BlobStore(f"s3://{bucket}", keys, client=client, part_size=MIN_PART_SIZE)
    with pytest.raises(BlobStoreError, match="InternalError|internal error"):
        store.put_stream("f", _pieces(os.urandom(6 << 20), 1 << 20))
    assert proxy.failed >= 2
    assert not store_ok.exists("f")
    assert _raw_objects(s3_env, bucket) == {}


def test_clear_errors(s3_env: str, keys: LocalKeyFileProvider) -> None:
    missing = S3BlobStore(f"s3://no-such-bucket-{secrets.token_hex(4)}", keys)
    rep = missing.check()
    assert rep.problems and "does not exist" in rep.problems[0]
    with pytest.raises(BlobStoreError, match="does not exist"):
        missing.put_stream("k", [b"x"])
    dead = S3BlobStore("s3://b", keys, client=make_client(
        endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout=0.5))
    rep = dead.check()
    assert rep.problems and "cannot reach the S3 endpoint" in rep.problems[0]


def test_wrong_credentials(tmp_path: Path, keys: LocalKeyFileProvider,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An S3 server that checks signatures (moto with authentication on) rejects unknown
    keys: a one-line error naming the credentials, at check and at upload."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        store = S3BlobStore("s3://any-bucket/rec", keys, client=make_client(
            endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1))
        rep = store.check()
        assert rep.problems and "credentials rejected" in rep.problems[0]
        with pytest.raises(BlobStoreError, match="credentials rejected"):
            store.put_stream("calls/x/original", [b"secret"])
    finally:
        proc.terminate()
        proc.wait(10)
