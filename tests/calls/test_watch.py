"""Watch folder: stable files are imported, bad ones set aside with the reason."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from rokuon.calls.watch import WatchFolder
from rokuon.store.models import Call
from tests.helpers import tone_wav


def test_watch_folder_imports_and_sets_aside(rt, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.wav").write_bytes(tone_wav(1.0, seed=51))
    (inbox / "a.json").write_text('{"agent": "sato", "external_id": "w-1"}')
    (inbox / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    woken: list[int] = []
    wf = WatchFolder(rt, inbox, settle_s=0.0, on_import=lambda: woken.append(1))
    for sub in ("done", "failed"):
        (inbox / sub).mkdir()
    assert wf.scan_once() == 0  # first sighting: size not yet known to be stable
    (inbox / "late.wav").write_bytes(tone_wav(1.0, seed=52))  # still being copied
    assert wf.scan_once() == 2
    assert woken == [1]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.json", "a.wav"]
    failed = sorted(p.name for p in (inbox / "failed").iterdir())
    assert failed == ["broken.wav", "broken.wav.error.txt"]
    assert "broken.wav" in (inbox / "failed" / "broken.wav.error.txt").read_text()
    assert (inbox / "late.wav").exists()
    with rt.db.session() as s:
        [call] = s.scalars(select(Call)).all()
        assert (call.agent, call.external_id, call.source) == ("sato", "w-1", "watch")
    assert wf.scan_once() == 1  # late.wav is now stable
