"""Partial files of a killed writer are swept at start-up; a live writer's are not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files, sweep_orphans
from rokuon.store.blobs import LocalBlobStore
from rokuon.store.keys import LocalKeyFileProvider
from tests.helpers import tone_wav


def _store(tmp_path: Path) -> LocalBlobStore:
    kf = tmp_path / "kek.json"
    LocalKeyFileProvider.create(kf)
    return LocalBlobStore(tmp_path / "blobs", LocalKeyFileProvider(kf))


def _partials(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".partial-" in p.name]


def test_live_writer_partial_is_kept_dead_writer_partial_is_removed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # a writer that died: its partial file is there, nobody holds it
    dead = store.root / "calls" / "x" / ".original.partial-0123456789abcdef"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"half a recording")
    # a writer still streaming: paused in the middle of its chunks
    started, go = threading.Event(), threading.Event()

    def chunks() -> Iterator[bytes]:
        yield b"a" * 1000
        started.set()
        go.wait(10)
        yield b"b" * 1000

    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(store.put_stream("calls/y/original",
                                                                       chunks())))
    t.start()
    assert started.wait(10)
    live = [p for p in _partials(store.root) if p != dead]
    assert len(live) == 1
    assert store.sweep_abandoned_partials() == [dead]  # however fresh the dead one is
    assert live[0].exists()
    go.set()
    t.join(10)
    assert result and store.exists("calls/y/original")  # the live write completed
    assert _partials(store.root) == []


def test_startup_sweep_removes_partials_of_a_killed_ingest(rt, tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    p.write_bytes(tone_wav(1.0, seed=31))
    [res] = ingest_files(rt, [p], actor=Principal.cli())
    left = rt.settings.blob_dir / "calls" / "z" / ".original.partial-00112233aabbccdd"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"x")
    assert sweep_orphans(rt) == [str(left)]
    assert not left.exists() and rt.blobs.exists(f"calls/{res.call_id}/original")
