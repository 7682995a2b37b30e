"""Watch folder: recordings dropped into a directory are imported automatically.

A file is picked up once its size has stayed the same for ``settle_s`` seconds
(the copy finished). A metadata sidecar ``<name>.json`` is used when present.
After import the recording (and sidecar) is moved to ``done/``; a rejected file
goes to ``failed/`` with ``<name>.error.txt`` saying why. Nothing is deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.runtime import Runtime

log = logging.getLogger("rokuon.watch")
AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a", ".aac", ".mp4"}


class WatchFolder:
    def __init__(self, rt: Runtime, folder: Path | None = None, *, settle_s: float = 2.0,
                 poll_s: float = 1.0, on_import: object = None) -> None:
        self.rt = rt
        self.folder = Path(folder or rt.settings.watch_dir or "")
        self.settle_s, self.poll_s = settle_s, poll_s
        self.on_import = on_import  # callable() notified after imports (wakes the executor)
        self._seen: dict[Path, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WatchFolder:
        for sub in ("done", "failed"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rokuon-watch")
        self._thread.start()
        log.info("watching %s", self.folder)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # noqa: BLE001 - keep watching
                log.exception("watch folder scan failed")
            self._stop.wait(self.poll_s)

    def ready_files(self) -> list[Path]:
        now = time.monotonic()
        ready = []
        for p in sorted(self.folder.iterdir()):
            if not p.is_file() or p.name.startswith(".") or p.suffix.lower() == ".json":
                continue
            if p.name.endswith(".error.txt"):
                continue
            size = p.stat().st_size
            prev = self._seen.get(p)
            if prev is None or prev[0] != size:
                self._seen[p] = (size, now)
            elif now - prev[1] >= self.settle_s:
                ready.append(p)
        return ready

    def scan_once(self) -> int:
        files = self.ready_files()
        if not files:
            return 0
        for path in files:
            res = ingest_files(self.rt, [path], source="watch", actor=Principal(
                name="watch-folder", role="admin", source=str(self.folder)))[0]
            target = self.folder / ("failed" if res.status == "error" else "done")
            self._move(path, target)
            sidecar = path.with_suffix(".json")
            if sidecar.exists():
                self._move(sidecar, target)
            if res.status == "error":
                (target / f"{path.name}.error.txt").write_text((res.error or "") + "\n",
                                                               encoding="utf-8")
                log.warning("%s", res.error)
            else:
                log.info("%s: %s %s", path.name, res.status, res.call_id or res.duplicate_of)
            self._seen.pop(path, None)
        if callable(self.on_import):
            self.on_import()
        return len(files)

    @staticmethod
    def _move(src: Path, folder: Path) -> None:
        dest = folder / src.name
        if dest.exists():
            dest = folder / f"{src.stem}.{int(time.time())}{src.suffix}"
        try:
            os.replace(src, dest)
        except OSError:
            shutil.move(str(src), str(dest))
