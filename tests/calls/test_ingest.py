"""Ingest: all or nothing, duplicates reported, bad input named, batches continue."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files, sweep_orphans
from rokuon.store.models import AuditEntry, Call, Party, PipelineJob
from tests.helpers import tone_wav

CLI = Principal.cli()


def _counts(rt) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        calls = s.scalar(select(func.count()).select_from(Call))
    blobs = len(list(rt.blobs.keys()))
    return calls, blobs


def test_stereo_import_creates_call_parties_job_and_encrypted_blob(rt, tmp_path: Path) -> None:
    wav = tmp_path / "call.wav"
    data = tone_wav(2.0, seed=1)
    wav.write_bytes(data)
    (tmp_path / "call.json").write_text(json.dumps(
        {"external_id": "pbx-1", "agent": "sato", "direction": "inbound",
         "started_at": "2026-11-20T09:30:00+09:00", "queue": "support", "team": "A"}))
    [res] = ingest_files(rt, [wav], actor=CLI)
    assert res.status == "stored", res
    with rt.db.session() as s:
        call = s.get(Call, res.call_id)
        assert call.container == "wav" and call.codec == "pcm_mulaw"
        assert call.channels == 2 and call.sample_rate == 8000
        assert abs(call.duration_s - 2.0) < 0.05
        assert call.agent == "sato"
        assert call.extra_metadata == {"team": "A", "notice_version": "1"}
        assert call.purposes == ["quality"]  # the default purpose of use
        roles = {p.channel: p.role for p in s.scalars(select(Party).where(
            Party.call_id == call.id))}
        assert roles == {0: "agent", 1: "customer"}
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call.id)).one()
        assert job.step == "transcribe" and job.status == "pending"
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "call.ingest")) == 1
    # stored encrypted: the raw bytes are nowhere under the blob directory
    probe = data[1000:1064]
    for f in rt.settings.blob_dir.rglob("*"):
        if f.is_file():
            assert probe not in f.read_bytes()


def test_channel_roles_per_call_and_flag(rt, tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(tone_wav(1.0, seed=2))
    b.write_bytes(tone_wav(1.0, seed=3))
    (tmp_path / "b.json").write_text('{"channels": ["agent", "customer"]}')
    ra, rb = ingest_files(rt, [a, b], channels=["customer", "agent"], actor=CLI)
    with rt.db.session() as s:
        def roles(cid: str) -> dict[int | None, str]:
            return {p.channel: p.role for p in s.scalars(select(Party).where(
                Party.call_id == cid))}
        assert roles(ra.call_id) == {0: "customer", 1: "agent"}
        assert roles(rb.call_id) == {0: "agent", 1: "customer"}  # the call's sidecar wins


def test_mono_has_no_channel_roles(rt, tmp_path: Path) -> None:
    p = tmp_path / "mono.wav"
    p.write_bytes(tone_wav(1.0, channels=1, seed=4))
    [res] = ingest_files(rt, [p], actor=CLI)
    with rt.db.session() as s:
        assert s.get(Call, res.call_id).channels == 1
        assert s.scalars(select(Party).where(Party.call_id == res.call_id)).all() == []


def test_duplicates_by_content_and_external_id(rt, tmp_path: Path) -> None:
    p1, p2, p3 = (tmp_path / n for n in ("a.wav", "copy.wav", "other.wav"))
    p1.write_bytes(tone_wav(1.0, seed=5))
    p2.write_bytes(p1.read_bytes())
    p3.write_bytes(tone_wav(1.0, seed=6))
    (tmp_path / "a.json").write_text('{"external_id": "x-1"}')
    (tmp_path / "other.json").write_text('{"external_id": "x-1"}')
    r1, r2, r3 = ingest_files(rt, [p1, p2, p3], actor=CLI)
    assert r1.status == "stored"
    assert (r2.status, r2.duplicate_of) == ("duplicate", r1.call_id)
    assert (r3.status, r3.duplicate_of) == ("duplicate", r1.call_id)
    assert _counts(rt) == (1, 1)


@pytest.mark.parametrize("name, content, message", [
    ("empty.wav", b"", "empty file"),
    ("text.wav", "これは音声ではありません".encode() * 50, "not a recognised audio file"),
    ("fake.mp3", b"\x00" * 4096, "not a recognised audio file"),
])
def test_bad_files_rejected_cleanly(rt, tmp_path: Path, name: str, content: bytes,
                                    message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    good = tmp_path / "good.wav"
    good.write_bytes(tone_wav(1.0, seed=7))
    bad, ok = ingest_files(rt, [p, good], actor=CLI)
    assert bad.status == "error" and message in bad.error and name in bad.error
    assert "\n" not in bad.error
    assert ok.status == "stored"  # the rest of the batch still goes through
    assert _counts(rt) == (1, 1)  # no orphan row or blob for the bad one


def test_truncated_wav(rt, tmp_path: Path) -> None:
    data = tone_wav(4.0, seed=8)
    p = tmp_path / "cut.wav"
    p.write_bytes(data[: len(data) // 4])
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "cut.wav" in res.error and "truncated" in res.error
    assert _counts(rt) == (0, 0)


def test_three_channels_rejected(rt, tmp_path: Path) -> None:
    p = tmp_path / "three.wav"
    p.write_bytes(tone_wav(1.0, channels=3, seed=9, subtype="PCM_16"))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "3 channels" in res.error
    assert _counts(rt) == (0, 0)


def test_too_long_rejected(rt, tmp_path: Path) -> None:
    rt.settings.max_duration_s = 1.5
    p = tmp_path / "long.wav"
    p.write_bytes(tone_wav(3.0, seed=10))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "exceeds" in res.error
    assert _counts(rt) == (0, 0)


def test_upload_limit(rt, tmp_path: Path) -> None:
    rt.settings.max_upload_bytes = 10_000
    p = tmp_path / "big.wav"
    p.write_bytes(tone_wav(3.0, seed=11))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "limit" in res.error
    assert _counts(rt) == (0, 0)


def test_bad_metadata_names_file_and_key(rt, tmp_path: Path) -> None:
    p = tmp_path / "m.wav"
    p.write_bytes(tone_wav(1.0, seed=12))
    (tmp_path / "m.json").write_text('{"started_at": 17}')
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "m.json" in res.error and "started_at" in res.error
    assert _counts(rt) == (0, 0)


def test_missing_and_directory(rt, tmp_path: Path) -> None:
    r1, r2 = ingest_files(rt, [tmp_path / "nope.wav", tmp_path], actor=CLI)
    assert "no such file" in r1.error and "not a regular file" in r2.error


def test_unreadable_file(rt, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    p = tmp_path / "locked.wav"
    p.write_bytes(tone_wav(1.0, seed=13))
    p.chmod(0)
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "locked.wav" in res.error


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A real 256 KiB filesystem (tmpfs) when we may mount one, else None."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                        capture_output=True).returncode == 0
    yield mnt if ok else None
    if ok:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_disk_full_leaves_nothing(rt, tmp_path: Path, small_disk: Path | None,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "a.wav"
    p.write_bytes(tone_wav(60.0, seed=14))  # ~960 KB: does not fit in 256 KiB
    if small_disk is not None:
        rt.blobs.root = small_disk / "blobs"
    else:  # no permission to mount: make the blob store's file writes fail like a full disk
        import rokuon.store.blobs as blobs_mod

        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fh):  # type: ignore[no-untyped-def]
                self.fh, self.n = fh, 0

            def write(self, data: bytes) -> int:
                self.n += len(data)
                if self.n > 200_000:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return self.fh.write(data)

            def __getattr__(self, name):  # type: ignore[no-untyped-def]
                return getattr(self.fh, name)

            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *a):  # type: ignore[no-untyped-def]
                return self.fh.__exit__(*a)

        monkeypatch.setattr(blobs_mod.os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.status == "error" and "disk full" in res.error, res
    assert "a.wav" in res.error
    assert _counts(rt) == (0, 0)
    assert [f for f in rt.blobs.root.rglob("*") if f.is_file()] == []


def test_crash_between_blob_and_row_is_swept(rt) -> None:
    import os
    import time

    rt.blobs.put_stream("calls/deadbeef/original", [b"x" * 100])
    rt.blobs.put_stream("calls/cafe/original", [b"y" * 100])
    # only blobs older than an hour: a younger one may belong to a call another
    # process (an ingest, another machine on the same bucket) has not committed yet
    old = time.time() - 2 * 3600
    os.utime(rt.blobs.path_of("calls/deadbeef/original"), (old, old))
    assert sweep_orphans(rt) == ["calls/deadbeef/original"]
    assert rt.blobs.exists("calls/cafe/original")
    assert sweep_orphans(rt, older_than_s=0) == ["calls/cafe/original"]
    assert _counts(rt) == (0, 0)


def test_channel_roles_per_source(rt, tmp_path: Path) -> None:
    rt.settings.channels_by_source = {"watch": ["customer", "agent"]}
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(tone_wav(1.0, seed=15))
    b.write_bytes(tone_wav(1.0, seed=16))
    [ra] = ingest_files(rt, [a], source="watch", actor=CLI)
    [rb] = ingest_files(rt, [b], source="cli", actor=CLI)
    with rt.db.session() as s:
        def roles(cid: str) -> dict[int | None, str]:
            return {p.channel: p.role for p in s.scalars(select(Party).where(
                Party.call_id == cid))}
        assert roles(ra.call_id) == {0: "customer", 1: "agent"}
        assert roles(rb.call_id) == {0: "agent", 1: "customer"}
