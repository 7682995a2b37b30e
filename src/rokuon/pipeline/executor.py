"""Executors run pipeline jobs. The steps do not know which executor runs them.

- ``EmbeddedExecutor``: worker threads inside the current process (``rokuon serve``,
  ``rokuon ingest --wait``); the database is the queue.
- A Celery executor (scale-out) implements the same ``Executor`` protocol and
  calls ``run_job`` from its task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from typing import Protocol

from sqlalchemy import select

from rokuon.pipeline import jobs
from rokuon.pipeline.steps import STEP_FUNCTIONS, LeaseLostError, PermanentStepError
from rokuon.runtime import Runtime
from rokuon.store.models import Call, CallStatus, PipelineJob

log = logging.getLogger("rokuon.pipeline")


class Executor(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def notify(self) -> None:
        """New work may be available."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Heartbeat(threading.Thread):
    def __init__(self, rt: Runtime, job_id: int, worker: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.rt, self.job_id, self.worker = rt, job_id, worker
        self.stopped = threading.Event()

    def run(self) -> None:
        lease = self.rt.settings.job_lease_s
        while not self.stopped.wait(max(lease / 3, 0.2)):
            try:
                with self.rt.db.session() as s:
                    jobs.extend_lease(s, self.job_id, self.worker, lease)
            except Exception:  # noqa: BLE001 - a missed heartbeat only risks a rerun
                log.exception("heartbeat failed for job %s", self.job_id)


def run_job(rt: Runtime, job: PipelineJob, worker: str) -> None:
    """Run one claimed job to completion or record its failure."""
    hb = _Heartbeat(rt, job.id, worker)
    hb.start()
    try:
        STEP_FUNCTIONS[job.step](rt, job, worker)
        log.info("call %s: %s done", job.call_id, job.step)
    except LeaseLostError as exc:
        log.warning("%s", exc)
    except Exception as exc:  # noqa: BLE001 - recorded on the job, never lost
        permanent = isinstance(exc, PermanentStepError)
        msg = f"{type(exc).__name__}: {exc}" if not permanent else str(exc)
        log.error("call %s: %s failed: %s", job.call_id, job.step, msg)
        log.debug("%s", traceback.format_exc())
        with rt.db.session() as s:
            jobs.fail(s, job.id, worker, msg, permanent=permanent,
                      retry_delay_s=min(rt.settings.job_poll_s * 4, 5.0))
    finally:
        hb.stopped.set()


def run_one(rt: Runtime, worker: str, call_ids: list[str] | None = None) -> bool:
    with rt.db.session() as s:
        job = jobs.claim_next(s, worker, rt.settings.job_lease_s, call_ids=call_ids)
    if job is None:
        return False
    run_job(rt, job, worker)
    return True


class EmbeddedExecutor:
    """Worker threads polling the job table."""

    def __init__(self, rt: Runtime, workers: int | None = None) -> None:
        self.rt = rt
        self.n = workers or rt.settings.workers
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.n):
            t = threading.Thread(target=self._loop, daemon=True, name=f"rokuon-worker-{i}")
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self) -> None:
        worker = worker_name()
        while not self._stop.is_set():
            try:
                worked = run_one(self.rt, worker)
            except Exception:  # noqa: BLE001 - keep the worker alive (DB hiccup etc.)
                log.exception("worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.rt.settings.job_poll_s)
                self._wake.clear()


def run_until_done(rt: Runtime, call_ids: list[str], *, timeout_s: float | None = None) -> None:
    """Foreground worker for ``ingest --wait``: process these calls' jobs until each
    call is indexed or failed (another process may do some of the work)."""
    worker = worker_name()
    deadline = time.monotonic() + timeout_s if timeout_s else None
    pending = list(call_ids)
    while pending:
        if deadline and time.monotonic() > deadline:
            raise TimeoutError(f"calls not finished after {timeout_s} s: {', '.join(pending)}")
        if not run_one(rt, worker, call_ids=pending):
            time.sleep(rt.settings.job_poll_s)
        with rt.db.session() as s:
            done = set(s.scalars(select(Call.id).where(
                Call.id.in_(pending), Call.status.in_(CallStatus.TERMINAL))).all())
        pending = [c for c in pending if c not in done]
