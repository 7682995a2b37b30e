"""The cluster's single beat: periodic work published once per cluster.

Any number of processes may run a beat (``rokuon worker --beat``, ``rokuon serve`` with
a broker); only the one holding the beat lock publishes. On PostgreSQL the lock is a
session advisory lock (keyed by the queue prefix) held on a dedicated connection: the
server releases it when that process or its connection dies, so another beat takes over
within one retry. On SQLite (one machine) an exclusive ``flock`` on ``HOME/run/beat.lock``.

It publishes ``rokuon.sweep`` every ``broker_sweep_s`` and the retention, CDR
reconciliation, breach-deadline and PCI leak-scan runs every ``retention_interval_h``
(which the embedded default runs in-process in ``rokuon serve``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import zlib
from typing import Any

from sqlalchemy import text

from rokuon.access.principal import Principal

log = logging.getLogger("rokuon.pipeline.beat")

ADVISORY_KEY = 0x726F6B75  # "roku"
LOCK_RETRY_S = 5.0


def run_periodic(rt: Any, name: str) -> str:
    actor = Principal(name="beat", role="admin", source="beat")
    if name == "retention":
        from rokuon.compliance.retention import run_retention

        r = run_retention(rt, actor)
        return f"retention: {len(r.deleted)} deleted, {len(r.held)} held"
    if name == "reconcile":
        from rokuon.cdr.service import scheduled_reconcile

        return f"reconcile: {'ran' if scheduled_reconcile(rt) else 'nothing to do'}"
    if name == "breach_reminders":
        from rokuon.compliance.breach import reminders

        reminders(rt)
        return "breach reminders sent"
    if name == "leak_scan":
        from rokuon.compliance import pci_scan

        with rt.db.session() as s:
            res = pci_scan.scan(s, actor, rt.analysis_config)
            s.commit()
        return f"leak scan: {len(res['leaks'])} leak(s) in {res['scanned']} segment(s)"
    raise ValueError(f"unknown periodic job {name!r}")


class BeatLock:
    """The single-beat guard (see the module docstring)."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self._conn: Any = None
        self._fd: int | None = None
        # one beat per cluster: installations sharing a database keep apart by prefix
        self._cluster = zlib.crc32(rt.settings.broker_queue_prefix.encode()) - 2**31

    def acquire(self) -> bool:
        if self.rt.db.engine.dialect.name == "postgresql":
            if self._conn is not None:
                try:  # still ours while our connection lives
                    self._conn.execute(text("SELECT 1"))
                    return True
                except Exception:  # noqa: BLE001 - connection gone: the lock with it
                    self.release()
            conn = self.rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k, :c)"),
                               {"k": ADVISORY_KEY, "c": self._cluster}).scalar()
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        if self._fd is not None:
            return True
        import fcntl

        folder = self.rt.settings.home / "run"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder / "beat.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k, :c)"),
                                   {"k": ADVISORY_KEY, "c": self._cluster})
            with contextlib.suppress(Exception):
                self._conn.invalidate()  # not back to the pool: the session ends
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ClusterBeat:
    """A thread that publishes the cluster's schedules while it holds the beat lock."""

    def __init__(self, rt: Any) -> None:
        from rokuon.pipeline import celery_app

        celery_app.configure(rt.settings)
        self.rt = rt
        self.lock = BeatLock(rt)
        self.holding = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ClusterBeat:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rokuon-beat")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        self.lock.release()

    def _loop(self) -> None:
        from rokuon.pipeline import celery_app

        s = self.rt.settings
        periodic_every = s.retention_interval_h * 3600
        next_periodic = time.monotonic() + min(60.0, periodic_every)
        while not self._stop.is_set():
            try:
                held = self.lock.acquire()
            except Exception:  # noqa: BLE001 - the database is away: try again
                log.warning("beat: cannot reach the database for the beat lock")
                held = False
            if not held:
                self.holding.clear()
                self._stop.wait(LOCK_RETRY_S)
                continue
            if not self.holding.is_set():
                log.info("beat: this process publishes the cluster's schedules")
                self.holding.set()
            try:
                celery_app.celery.send_task("rokuon.sweep", queue=celery_app.queue_name(
                    s, "analyze"), retry=True, retry_policy=celery_app.PUBLISH_RETRY)
                if time.monotonic() >= next_periodic:
                    for name in celery_app.PERIODIC:
                        celery_app.celery.send_task(
                            "rokuon.periodic", args=[name],
                            queue=celery_app.queue_name(s, "analyze"), retry=True,
                            retry_policy=celery_app.PUBLISH_RETRY)
                    next_periodic = time.monotonic() + periodic_every
            except Exception as exc:  # noqa: BLE001 - broker away: next tick
                log.warning("beat: cannot publish to the broker: %s", exc)
            self._stop.wait(s.broker_sweep_s)
