"""An S3-compatible blob store (AWS S3, MinIO, Ceph RGW, Wasabi …): ``s3://bucket/prefix``.

Blobs are encrypted with the same envelope as the local store (blobcrypt.py) before a
byte leaves the process: the object store only ever sees ciphertext. Uploads stream
through a bounded buffer of one part (``part_size``): small blobs are one ``PutObject``,
larger ones a multipart upload that becomes visible only when it is completed, so a
failed upload leaves no object (the multipart upload is aborted). Reads are ranged GETs
with a read-ahead window, pinned to the object's ETag, so playback can seek without
downloading the whole object. Credentials and the endpoint come from the standard
``AWS_*`` variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
``AWS_ENDPOINT_URL`` …); botocore retries throttling, 5xx answers, timeouts and dropped
connections with exponential backoff (``max_attempts``).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from rokuon.store.blobcrypt import DEFAULT_CHUNK_SIZE, DecryptingReader, EncryptingWriter, new_dek
from rokuon.store.blobs import (
    BlobNotFoundError,
    BlobStoreError,
    BlobTooLargeError,
    StoredBlob,
    human_size,
    validate_key,
)
from rokuon.store.keys import KeyProvider, WrappedKey

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
READ_WINDOW = 1024 * 1024  # first ranged GET; doubles while reads are sequential …
MAX_READ_WINDOW = 8 * 1024 * 1024  # … up to this (one GET per 8 MiB when streaming)
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_AUTH = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403",
         "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    parsed = urlparse(url)
    bucket = parsed.netloc
    if parsed.scheme != "s3" or not bucket or parsed.query or parsed.params:
        raise BlobStoreError(f"blob URL {url!r} is not of the form s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    if prefix:
        validate_key(prefix)
    return bucket, prefix


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


@dataclass
class S3Check:
    """What ``check()`` found: ``problems`` make the store unusable, ``warnings`` contradict
    retention or erasure."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    versioning: str = ""
    lifecycle_rules: int = 0


class _RangeReader(io.RawIOBase):
    """A seekable raw view of one object through ranged GETs (read-ahead ``window``)."""

    def __init__(self, store: S3BlobStore, key: str, size: int, etag: str,
                 window: int = READ_WINDOW) -> None:
        super().__init__()
        self._store, self._key, self._size, self._etag = store, key, size, etag
        self._window = window
        self._pos = 0
        self._buf = b""
        self._buf_start = 0
        self.gets = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _fill(self, want: int) -> None:
        sequential = bool(self._buf) and self._pos == self._buf_start + len(self._buf)
        self._window = min(self._window * 2, MAX_READ_WINDOW) if sequential \
            else READ_WINDOW
        end = min(self._size, self._pos + max(want, self._window)) - 1
        self._buf = self._store._get_range(self._key, self._pos, end, self._etag)
        self._buf_start = self._pos
        self.gets += 1

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        off = self._pos - self._buf_start
        if not 0 <= off < len(self._buf):
            self._fill(len(view))
            off = 0
        n = min(len(view), len(self._buf) - off)
        view[:n] = self._buf[off:off + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._buf = b""
        super().close()


class _PartSink:
    """The file ``EncryptingWriter`` writes into: buffers one part, then uploads it."""

    def __init__(self, store: S3BlobStore, key: str, part_size: int) -> None:
        self.store, self.key, self.part_size = store, key, part_size
        self.buf = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buf += data
        self.written += len(data)
        if len(self.buf) >= self.part_size:
            self._upload_part()
        return len(data)

    def _upload_part(self) -> None:
        s = self.store
        if self.upload_id is None:
            self.upload_id = s._call("start the upload of", self.key, s.client
                                     .create_multipart_upload, Bucket=s.bucket,
                                     Key=s.object_key(self.key))["UploadId"]
        number = len(self.parts) + 1
        body = bytes(self.buf)
        self.buf.clear()
        answer = s._call("upload", self.key, s.client.upload_part, Bucket=s.bucket,
                         Key=s.object_key(self.key), UploadId=self.upload_id,
                         PartNumber=number, Body=body)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        s = self.store
        if self.upload_id is None:  # small: one PutObject
            s._call("upload", self.key, s.client.put_object, Bucket=s.bucket,
                    Key=s.object_key(self.key), Body=bytes(self.buf))
            self.buf.clear()
            return
        if self.buf:
            self._upload_part()
        s._call("complete the upload of", self.key, s.client.complete_multipart_upload,
                Bucket=s.bucket, Key=s.object_key(self.key), UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        self.buf.clear()
        if self.upload_id is not None:
            s = self.store
            with contextlib.suppress(Exception):
                s.client.abort_multipart_upload(Bucket=s.bucket, Key=s.object_key(self.key),
                                                UploadId=self.upload_id)


def make_client(*, endpoint_url: str | None = None, max_attempts: int = 5,
                connect_timeout: float = 5.0, read_timeout: float = 30.0) -> Any:
    """A boto3 S3 client from the standard ``AWS_*`` environment, with bounded retries
    (``AWS_MAX_ATTEMPTS`` / ``AWS_RETRY_MODE`` override the defaults)."""
    import boto3
    from botocore.config import Config

    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    max_attempts = int(attempts) if attempts.isdigit() and int(attempts) > 0 else max_attempts
    config = Config(retries={"max_attempts": max_attempts,
                             "mode": os.environ.get("AWS_RETRY_MODE", "standard")},
                    connect_timeout=connect_timeout, read_timeout=read_timeout,
                    s3={"addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE",
                                                           "auto")})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1", config=config)


class S3BlobStore:
    """Encrypted blobs as objects under ``s3://bucket/prefix/<key>``."""

    def __init__(self, url: str, keys: KeyProvider, *, client: Any = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, part_size: int = DEFAULT_PART_SIZE,
                 max_attempts: int = 5, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0) -> None:
        if part_size < MIN_PART_SIZE:
            raise BlobStoreError(f"S3 part size must be at least {human_size(MIN_PART_SIZE)}")
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.key_provider = keys
        self.chunk_size = chunk_size
        self.part_size = part_size
        self.client = client or make_client(max_attempts=max_attempts,
                                            connect_timeout=connect_timeout,
                                            read_timeout=read_timeout)

    @property
    def endpoint(self) -> str:
        return str(getattr(getattr(self.client, "meta", None), "endpoint_url", "") or "")

    def object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- errors --------------------------------------------------------------------------------

    def explain(self, exc: Exception, doing: str, key: str = "") -> BlobStoreError:
        """One line saying what went wrong with the bucket, its endpoint or credentials."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"s3://{self.bucket}/{self.object_key(key) if key else self.prefix}"
        at = f" at {self.endpoint}" if self.endpoint else ""
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in ("NoSuchBucket",) or (code == "404" and not key):
                return BlobStoreError(f"bucket {self.bucket!r} does not exist{at}")
            if code in _NOT_FOUND and key:
                return BlobNotFoundError(f"blob {key} is missing from {where}")
            if code in _AUTH:
                return BlobStoreError(f"S3 credentials rejected{at} ({code}) while trying to "
                                      f"{doing} {where}: check AWS_ACCESS_KEY_ID / "
                                      "AWS_SECRET_ACCESS_KEY and the bucket policy")
            msg = exc.response.get("Error", {}).get("Message", "") or code
            return BlobStoreError(f"S3 error while trying to {doing} {where}{at}: {msg}")
        if isinstance(exc, NoCredentialsError):
            return BlobStoreError("no S3 credentials: set AWS_ACCESS_KEY_ID and "
                                  "AWS_SECRET_ACCESS_KEY (or an AWS profile)")
        if isinstance(exc, EndpointConnectionError):
            return BlobStoreError(f"cannot reach the S3 endpoint{at or ' ' + str(exc)} "
                                  f"(to {doing} {where}): check AWS_ENDPOINT_URL")
        if isinstance(exc, BotoCoreError):
            return BlobStoreError(f"S3 failure while trying to {doing} {where}{at}: {exc}")
        return BlobStoreError(f"S3 failure while trying to {doing} {where}{at}: {exc}")

    def _call(self, doing: str, key: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self.explain(exc, doing, key) from exc

    # -- writing -------------------------------------------------------------------------------

    def _upload(self, key: str, chunks: Iterable[bytes], dek: bytes | None,
                max_bytes: int | None) -> tuple[int, str]:
        sink = _PartSink(self, key, self.part_size)
        writer: EncryptingWriter | None = None
        size, digest = 0, ""
        try:
            if dek is not None:
                writer = EncryptingWriter(sink, dek, chunk_size=self.chunk_size)  # type: ignore[arg-type]
            for chunk in chunks:
                if writer is not None:
                    if max_bytes is not None and writer.size + len(chunk) > max_bytes:
                        raise BlobTooLargeError(
                            f"recording exceeds the upload limit of {human_size(max_bytes)}")
                    writer.write(chunk)
                else:
                    sink.write(chunk)
            if writer is not None:
                writer.finish()
                size, digest = writer.size, writer.sha256
            sink.complete()
        except BaseException:
            if writer is not None:
                writer.abort()
            sink.abort()
            raise
        return (size, digest) if writer is not None else (sink.written, "")

    def put_stream(self, key: str, chunks: Iterable[bytes], *,
                   max_bytes: int | None = None) -> StoredBlob:
        """Encrypt ``chunks`` into the object for ``key`` (replacing any there). Nothing is
        visible under the key until the whole upload has succeeded."""
        self.object_key(key)
        dek = new_dek()
        wrapped = self.key_provider.wrap(dek)  # a key provider failure uploads nothing
        size, digest = self._upload(key, chunks, dek, max_bytes)
        return StoredBlob(key=key, size=size, sha256=digest, wrapped_key=wrapped)

    def put_raw(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store already-encrypted bytes (a restore from backup); returns their size."""
        return self._upload(key, chunks, None, None)[0]

    # -- reading -------------------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any]:
        return self._call("read", key, self.client.head_object, Bucket=self.bucket,
                          Key=self.object_key(key))

    def _get_range(self, key: str, start: int, end: int, etag: str) -> bytes:
        answer = self._call("read", key, self.client.get_object, Bucket=self.bucket,
                            Key=self.object_key(key), Range=f"bytes={start}-{end}",
                            IfMatch=etag)
        body = answer["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def open_raw(self, key: str) -> _RangeReader:
        head = self._head(key)
        return _RangeReader(self, key, int(head["ContentLength"]), head["ETag"])

    def open(self, key: str, wrapped_key: WrappedKey) -> DecryptingReader:
        """A seekable plaintext view of the blob (ranged GETs; close it, or use ``with``)."""
        dek = self.key_provider.unwrap(wrapped_key)
        raw = self.open_raw(key)
        try:
            return DecryptingReader(raw, dek, name=key)  # type: ignore[arg-type]
        except BaseException:
            raw.close()
            raise

    def read_all(self, key: str, wrapped_key: WrappedKey, *,
                 expected_sha256: str | None = None) -> bytes:
        from rokuon.store.blobs import checked

        with self.open(key, wrapped_key) as r:
            return checked(key, r.readall(), expected_sha256)

    def raw_chunks(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """The encrypted object, streamed (backups copy it byte for byte)."""
        answer = self._call("read", key, self.client.get_object, Bucket=self.bucket,
                            Key=self.object_key(key))
        body = answer["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    # -- housekeeping --------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Remove the object, and its older versions where the bucket keeps versions (no
        error when it is already gone)."""
        from botocore.exceptions import ClientError

        okey = self.object_key(key)
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=okey)
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=okey)
            for page in pages:
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if v["Key"] == okey:
                        self._call("delete", key, self.client.delete_object,
                                   Bucket=self.bucket, Key=okey, VersionId=v["VersionId"])
        except ClientError as exc:
            if _code(exc) not in ("NotImplemented", "AccessDenied"):
                raise self.explain(exc, "delete", key) from exc

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except BlobNotFoundError:
            return False
        return True

    def keys(self) -> Iterator[str]:
        """Every blob key under the prefix."""
        from rokuon.store.blobs import _KEY_RE

        start = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(start):]
                    if _KEY_RE.fullmatch(key):
                        yield key
        except Exception as exc:
            raise self.explain(exc, "list") from exc

    def size_on_disk(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def stored_at(self, key: str) -> float:
        """When the object was written (Unix seconds, the server's LastModified)."""
        return float(self._head(key)["LastModified"].timestamp())

    def pending_uploads(self) -> list[str]:
        """Multipart uploads under the prefix that were started and never completed."""
        start = f"{self.prefix}/" if self.prefix else ""
        answer = self._call("list uploads in", "", self.client.list_multipart_uploads,
                            Bucket=self.bucket, Prefix=start)
        return [u["Key"] for u in answer.get("Uploads", [])]

    def sweep_abandoned_partials(self, older_than_s: float = 3600.0) -> list[str]:
        """Abort multipart uploads under the prefix started more than ``older_than_s`` ago
        (a writer killed mid-upload; the S3 analogue of the local store's partial
        files, which otherwise keep costing storage)."""
        import datetime as dt

        start = f"{self.prefix}/" if self.prefix else ""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_s)
        answer = self._call("list uploads in", "", self.client.list_multipart_uploads,
                            Bucket=self.bucket, Prefix=start)
        aborted = []
        for u in answer.get("Uploads", []):
            if u["Initiated"] <= cutoff:
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"],
                                                       UploadId=u["UploadId"])
                    aborted.append(u["Key"])
        return aborted

    def check(self) -> S3Check:
        """Bucket reachable, credentials valid, and no versioning or lifecycle rule that
        contradicts erasure or retention."""
        from botocore.exceptions import BotoCoreError, ClientError

        rep = S3Check()
        try:
            self.client.head_bucket(Bucket=self.bucket)
            start = f"{self.prefix}/" if self.prefix else ""
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=start, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            rep.problems.append(str(self.explain(exc, "open")))
            return rep
        try:
            rep.versioning = self.client.get_bucket_versioning(
                Bucket=self.bucket).get("Status", "") or ""
        except (ClientError, BotoCoreError) as exc:
            rep.warnings.append(f"cannot read the versioning of bucket {self.bucket!r}: "
                                f"{self.explain(exc, 'inspect')}")
        if rep.versioning in ("Enabled", "Suspended"):
            rep.warnings.append(
                f"bucket {self.bucket!r} has versioning {rep.versioning.lower()}: erased "
                "recordings survive as old versions (rokuon deletes them when it may; "
                "recordings stay encrypted and their keys are shredded) — disable "
                "versioning or add a lifecycle rule expiring noncurrent versions")
        try:
            rules = self.client.get_bucket_lifecycle_configuration(
                Bucket=self.bucket).get("Rules", [])
        except ClientError as exc:
            if _code(exc) != "NoSuchLifecycleConfiguration":
                rep.warnings.append(f"cannot read the lifecycle rules of bucket "
                                    f"{self.bucket!r}: {_code(exc)}")
            rules = []
        rep.lifecycle_rules = len(rules)
        for rule in rules:
            if rule.get("Status") != "Enabled":
                continue
            days = (rule.get("Expiration") or {}).get("Days")
            if days is not None:
                rep.warnings.append(
                    f"bucket {self.bucket!r} lifecycle rule {rule.get('ID', '?')!r} expires "
                    f"objects after {days} days: recordings under legal hold or longer "
                    "retention would be deleted behind rokuon's back")
        return rep


def _make_s3(*, url: str, keys: KeyProvider, root: Any = None, **options: Any) -> S3BlobStore:
    return S3BlobStore(url, keys, **options)
