"""Executors run pipeline jobs. The steps do not know which executor runs them.

- ``EmbeddedExecutor``: worker threads inside the current process (``rokuon serve``,
  ``rokuon ingest --wait``); the database is the queue.
- ``CeleryExecutor`` (``celery_executor.py``, when ``broker_url`` is set): ``notify``
  publishes "there is work" tasks; a Celery worker's task claims a job here and runs
  it with ``run_one`` (the job table stays the source of truth; see docs/pipeline.md).

Dead workers. Every process that claims jobs first takes an exclusive ``flock`` on
its own file ``HOME/run/workers/<token>.lock`` and names its workers
``host:pid:<token>/<n>``. The kernel drops the lock when the process ends, however it
ends (``kill -9``, out of memory, power loss), whatever its PID namespace, and a reused
PID cannot fake it. Before claiming, a worker looks (every few seconds) at the owners
of running jobs: an owner whose lock file it can lock itself is dead, and its jobs go
back to the queue at once, so a restarted server resumes the interrupted steps
immediately instead of after the lease (``job_lease_s``). Owners whose lock file is
not there (another machine, an older version) still expire with their lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from rokuon.pipeline import jobs
from rokuon.pipeline.steps import STEP_FUNCTIONS, LeaseLostError, PermanentStepError
from rokuon.runtime import Runtime
from rokuon.store.models import Call, CallStatus, JobStatus, PipelineJob

log = logging.getLogger("rokuon.pipeline")


class Executor(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def notify(self) -> None:
        """New work may be available."""


try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: dead workers wait for their lease
    fcntl = None  # type: ignore[assignment]

RECLAIM_EVERY_S = 2.0
_proc_lock = threading.Lock()
_proc: dict[str, object] = {}  # pid, token, held (workers folder -> locked fd), last reclaim


def _process_token() -> str:
    """This process's random token (a new one after fork)."""
    with _proc_lock:
        if _proc.get("pid") != os.getpid():
            _proc.clear()
            _proc.update(pid=os.getpid(), token=uuid.uuid4().hex[:12], last=0.0)
        return str(_proc["token"])


def worker_name() -> str:
    host = socket.gethostname()[:60]  # lease_owner is 100 characters at most
    return f"{host}:{os.getpid()}:{_process_token()}/{uuid.uuid4().hex[:6]}"


def owner_token(owner: str | None) -> str | None:
    """The process token in a lease owner ``host:pid:<token>/<n>`` (None for others)."""
    if not owner or ":" not in owner:
        return None
    token = owner.rsplit(":", 1)[1].split("/", 1)[0]
    return token if len(token) == 12 and all(c in "0123456789abcdef" for c in token) else None


def workers_dir(rt: Runtime) -> Path:
    return rt.settings.home / "run" / "workers"


def hold_process_lock(rt: Runtime) -> None:
    """Take this process's liveness lock in ``rt``'s home (once per home) before it
    claims any job there. One process may work for several homes (tests, tools), and
    a lock held in one home says nothing to the workers of another."""
    if fcntl is None:
        return
    token = _process_token()
    folder = workers_dir(rt)
    with _proc_lock:
        held: dict[str, int] = _proc.setdefault("held", {})  # type: ignore[assignment]
        path = folder / f"{token}.lock"
        if str(folder) in held and path.exists():
            return
        if str(folder) in held:  # the file was removed under us (home wiped): again
            with contextlib.suppress(OSError):
                os.close(held.pop(str(folder)))
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # locked before it gets its name, so no file named *.lock is ever unlocked
        # while its process lives
        tmp = folder / f".{token}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
            os.replace(tmp, path)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        held[str(folder)] = fd


def _is_dead(folder: Path, token: str) -> bool:
    """True when the process of ``token`` has a lock file here that nobody holds."""
    if fcntl is None or token == _proc.get("token"):
        return False
    try:
        fd = os.open(folder / f"{token}.lock", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False  # unknown here (another machine, or already cleaned up)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: alive
    finally:
        os.close(fd)  # closing releases our probe lock
    return True


def reclaim_dead_workers(rt: Runtime, *, force: bool = False) -> list[int]:
    """Put back the running jobs of workers whose process has ended (at most every
    RECLAIM_EVERY_S seconds per process unless ``force``); remove their lock files."""
    if fcntl is None:
        return []
    now = time.monotonic()
    with _proc_lock:
        if not force and now - float(_proc.get("last", 0.0)) < RECLAIM_EVERY_S:  # type: ignore[arg-type]
            return []
        _proc["last"] = now
    folder = workers_dir(rt)
    if not folder.is_dir():
        return []
    with rt.db.session() as s:
        owners = s.scalars(select(PipelineJob.lease_owner).distinct().where(
            PipelineJob.status == JobStatus.RUNNING,
            PipelineJob.lease_owner.is_not(None))).all()
    dead_tokens = {t for t in {owner_token(o) for o in owners} if t and _is_dead(folder, t)}
    dead = [o for o in owners if owner_token(o) in dead_tokens]
    released: list[int] = []
    if dead:
        with rt.db.session() as s:
            released = jobs.release_abandoned(s, dead, "its worker process ended")
        log.warning("put back %d job(s) of %d ended worker process(es)", len(released),
                    len(dead_tokens))
    # lock files of ended processes that hold no job any more
    for path in folder.glob("*.lock"):
        token = path.stem
        if token in dead_tokens or (token not in {owner_token(o) for o in owners}
                                    and _is_dead(folder, token)):
            with contextlib.suppress(OSError):
                path.unlink()
    return released


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


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is the database dropping the connection
    (a restart, a failover, an administrator): not the step's fault."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, DBAPIError) and cur.connection_invalidated:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _record_failure(rt: Runtime, job: PipelineJob, worker: str, msg: str, *,
                    permanent: bool, counted: bool) -> None:
    """Record the failed attempt; while the database is unreachable, try a few times
    (else the job waits for its lease to expire)."""
    for wait_s in (0.5, 2.0, 5.0, None):
        try:
            with rt.db.session() as s:
                jobs.fail(s, job.id, worker, msg, permanent=permanent, counted=counted,
                          retry_delay_s=min(rt.settings.job_poll_s * 4, 5.0))
            return
        except DBAPIError:
            if wait_s is None:
                raise  # the job is retried when its lease expires
            time.sleep(wait_s)


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
        lost = connection_lost(exc)
        msg = f"{type(exc).__name__}: {exc}" if not permanent else str(exc)
        if lost:
            msg = f"database connection lost: {str(exc).splitlines()[0]}"
            log.warning("call %s: %s interrupted, will run again: %s", job.call_id,
                        job.step, msg)
        else:
            log.error("call %s: %s failed: %s", job.call_id, job.step, msg)
        log.debug("%s", traceback.format_exc())
        _record_failure(rt, job, worker, msg, permanent=permanent, counted=not lost)
    finally:
        hb.stopped.set()


def run_one(rt: Runtime, worker: str, call_ids: list[str] | None = None, *,
            steps: tuple[str, ...] | None = None) -> PipelineJob | None:
    """Claim and run one job (of these ``steps`` only when given); the job, or None
    when there was nothing to do (truthy/falsy as before)."""
    hold_process_lock(rt)
    reclaim_dead_workers(rt)
    with rt.db.session() as s:
        job = jobs.claim_next(s, worker, rt.settings.job_lease_s, call_ids=call_ids,
                              steps=steps)
    if job is None:
        return None
    run_job(rt, job, worker)
    return job


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
            except Exception as exc:  # noqa: BLE001 - keep the worker alive (DB hiccup etc.)
                if connection_lost(exc):
                    log.warning("worker: database connection lost, retrying: %s",
                                str(exc).splitlines()[0])
                else:
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
