"""Importing a recording: all or nothing.

1. metadata validated, external id checked for duplicates;
2. the bytes are streamed once, encrypted, into the blob store (hash and size
   computed on the way; plaintext never touches the disk);
3. the stored blob is sniffed and decoded from the encrypted store to prove it is
   usable audio (format from the bytes, never from the file name); the decoder runs in
   a sandboxed child process (engine/audio/sandbox.py), so a hostile file is rejected
   like any other bad one;
4. one transaction creates the call, its parties, its state history, the first
   pipeline job and the audit entry.
Any failure after step 2 deletes the blob; a crash between 2 and 4 leaves only an
encrypted blob without a call, which ``sweep_orphans`` removes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rokuon.access import audit
from rokuon.access.principal import Principal
from rokuon.calls.metadata import CallMetadata, MetadataError, parse_metadata
from rokuon.compliance.purposes import PurposeError, notice_for
from rokuon.compliance.purposes import resolve as resolve_purposes
from rokuon.engine.audio import sandbox
from rokuon.engine.audio.sniff import sniff_format
from rokuon.engine.types import AudioError, AudioInfo
from rokuon.pipeline import jobs
from rokuon.runtime import Runtime
from rokuon.store.blobs import BlobNotFoundError
from rokuon.store.models import Call, CallStatus, Party, PipelineEvent, new_id

log = logging.getLogger("rokuon.ingest")
READ_CHUNK = 1024 * 1024


class IngestError(Exception):
    """A recording was rejected; the message names the file and the problem."""


@dataclass
class IngestResult:
    file: str
    status: str  # "stored" | "duplicate" | "error"
    call_id: str | None = None
    duplicate_of: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def iter_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            yield chunk


def _roles_for(info: AudioInfo, meta: CallMetadata | None, channels: list[str] | None,
               source_default: list[str] | None, default: list[str]) -> list[str]:
    """Stereo roles: the call's metadata > the batch (--channels) > the source > global."""
    if info.channels == 1:
        return []
    if meta is not None and meta.channels:
        return meta.channels
    return channels or source_default or default


def ingest_stream(
    rt: Runtime,
    chunks: Iterable[bytes],
    *,
    name: str,
    meta: CallMetadata | None = None,
    channels: list[str] | None = None,
    source: str = "cli",
    actor: Principal,
    call_id: str | None = None,
) -> IngestResult:
    """Import one recording from a byte stream. Raises IngestError (already named).
    ``call_id``: the id the call gets (a live call keeps the id it had while live)."""
    settings = rt.settings
    meta = meta or CallMetadata()
    if meta.external_id:
        with rt.db.session() as s:
            dup = s.scalar(select(Call.id).where(Call.external_id == meta.external_id))
        if dup:
            return IngestResult(file=name, status="duplicate", duplicate_of=dup)

    from rokuon.store.blobs import BlobStoreError, BlobTooLargeError
    from rokuon.store.keys import KeyProviderError

    call_id = call_id or new_id()
    key = f"calls/{call_id}/original"
    try:
        stored = rt.blobs.put_stream(key, chunks, max_bytes=settings.max_upload_bytes)
    except BlobTooLargeError as exc:
        raise IngestError(f"{name}: {exc}") from exc
    except BlobStoreError as exc:
        raise IngestError(f"{name}: could not store the recording: {exc}") from exc
    except KeyProviderError as exc:
        raise IngestError(f"{name}: could not encrypt the recording: {exc}") from exc
    except OSError as exc:
        raise IngestError(f"{name}: could not read the recording: {exc.strerror or exc}") from exc

    try:
        if stored.size == 0:
            raise IngestError(f"{name}: empty file (0 bytes)")
        with rt.blobs.open(key, stored.wrapped_key) as reader:
            head = reader.read(64)
            fmt = sniff_format(head)
            if fmt is None:
                raise IngestError(f"{name}: not a recognised audio file (content is not WAV, "
                                  "MP3, OGG/Opus, FLAC or M4A, whatever the file name says)")
            reader.seek(0)
            try:
                info = sandbox.validate(reader, settings.decode_limits,
                                        max_duration_s=settings.max_duration_s)
            except AudioError as exc:
                raise IngestError(f"{name}: {exc}") from exc
        duration = info.duration_s
        roles = _roles_for(info, meta, channels, settings.channels_by_source.get(source),
                           settings.default_channels)
        try:
            purposes = resolve_purposes(settings, meta.purposes, queue=meta.queue,
                                        source=source)
        except PurposeError as exc:
            raise IngestError(f"{name}: {exc}") from exc
        started = meta.started_at_aware(settings.timezone)
        extra = meta.extra()
        notice = notice_for(settings, started)
        if notice is not None and "notice_version" not in extra:
            extra["notice_version"] = notice.get("version")

        with rt.db.session() as s:
            dup = s.scalar(select(Call.id).where(Call.content_sha256 == stored.sha256))
            if dup:
                rt.blobs.delete(key)
                return IngestResult(file=name, status="duplicate", duplicate_of=dup)
            call = Call(
                id=call_id, external_id=meta.external_id, content_sha256=stored.sha256,
                status=CallStatus.STORED, started_at=started,
                duration_s=round(duration, 3), direction=meta.direction, agent=meta.agent,
                customer_number=meta.customer_number, queue=meta.queue,
                purposes=purposes, extra_metadata=extra, source=source,
                original_filename=Path(name).name[:500], container=fmt, codec=info.codec,
                sample_rate=info.sample_rate, channels=info.channels, blob_key=key,
                wrapped_key=stored.wrapped_key.to_json(), blob_size=stored.size,
            )
            s.add(call)
            for ch, role in enumerate(roles):
                s.add(Party(call_id=call_id, role=role, channel=ch,
                            name=meta.agent if role == "agent" else None))
            s.add(PipelineEvent(call_id=call_id, state=CallStatus.RECEIVED, detail=source))
            s.add(PipelineEvent(call_id=call_id, state=CallStatus.STORED))
            jobs.enqueue(s, call_id, "transcribe", max_attempts=settings.max_attempts)
            audit.record(s, actor, "call.ingest", object_type="call", object_id=call_id,
                         detail={"file": Path(name).name, "bytes": stored.size, "source": source})
        return IngestResult(file=name, status=CallStatus.STORED, call_id=call_id)
    except IntegrityError as exc:
        rt.blobs.delete(key)
        with rt.db.session() as s:
            dup = s.scalar(select(Call.id).where(
                (Call.content_sha256 == stored.sha256)
                | ((Call.external_id == meta.external_id) & (Call.external_id.is_not(None)))))
        if dup:
            return IngestResult(file=name, status="duplicate", duplicate_of=dup)
        raise IngestError(f"{name}: database rejected the call: {exc.orig}") from exc
    except BaseException:
        rt.blobs.delete(key)
        raise


def load_sidecar(path: Path, meta_path: Path | None) -> CallMetadata | None:
    """Explicit --meta file, else ``<file>.json`` next to the recording, else none."""
    candidate = meta_path or path.with_suffix(".json")
    if meta_path is None and not candidate.exists():
        return None
    try:
        raw = candidate.read_bytes()
    except OSError as exc:
        raise IngestError(f"{candidate}: cannot read metadata: {exc.strerror}") from exc
    try:
        return parse_metadata(raw, source=str(candidate))
    except MetadataError as exc:
        raise IngestError(str(exc)) from exc


def ingest_files(
    rt: Runtime,
    paths: list[Path],
    *,
    meta_path: Path | None = None,
    channels: list[str] | None = None,
    source: str = "cli",
    actor: Principal,
) -> list[IngestResult]:
    """Import a batch; one bad file never stops the others."""
    results: list[IngestResult] = []
    for path in paths:
        try:
            if not path.exists():
                raise IngestError(f"{path}: no such file")
            if not path.is_file():
                raise IngestError(f"{path}: not a regular file")
            meta = load_sidecar(path, meta_path)
            results.append(ingest_stream(rt, iter_file(path), name=str(path), meta=meta,
                                         channels=channels, source=source, actor=actor))
        except IngestError as exc:
            log.warning("%s", exc)
            results.append(IngestResult(file=str(path), status="error", error=str(exc)))
        except PermissionError as exc:
            results.append(IngestResult(file=str(path), status="error",
                                        error=f"{path}: permission denied ({exc.strerror})"))
    return results


ORPHAN_AGE_S = 3600.0


def sweep_orphans(rt: Runtime, older_than_s: float = ORPHAN_AGE_S) -> list[str]:
    """Remove encrypted blobs that no call row refers to (a crash during ingest), and
    partial files whose writer died. Only blobs written more than ``older_than_s`` ago:
    another process (an ingest, a second machine on the same bucket) may have stored a
    blob whose call row it has not committed yet."""
    import time

    removed = [str(p) for p in getattr(rt.blobs, "sweep_abandoned_partials", list)()]
    candidates = [k for k in list(rt.blobs.keys()) if k.startswith("calls/")]
    with rt.db.session() as s:  # read after listing: a row committed meanwhile is seen
        known = set(s.scalars(select(Call.blob_key)).all())
    now = time.time()
    for key in candidates:
        if key in known:
            continue
        try:
            if now - rt.blobs.stored_at(key) < older_than_s:
                continue
        except BlobNotFoundError:
            continue  # gone meanwhile
        rt.blobs.delete(key)
        removed.append(key)
    return removed
