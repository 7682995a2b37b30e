"""Jobs of dead workers: put back at once when the worker's process is known to have
ended, failed for good when the worker died during the last allowed attempt."""

from __future__ import annotations

import fcntl
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.pipeline import executor, jobs
from rokuon.store.models import Call, JobStatus, PipelineEvent, PipelineJob, utcnow
from tests.helpers import tone_wav

CLI = Principal.cli()


def _call(rt, tmp_path: Path, seed: int) -> str:  # type: ignore[no-untyped-def]
    p = tmp_path / f"c{seed}.wav"
    p.write_bytes(tone_wav(1.0, seed=seed))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.call_id
    return res.call_id


def _hold(rt, call_id: str, owner: str, *, attempts: int = 1,  # type: ignore[no-untyped-def]
          lease_left_s: float = 600.0) -> int:
    """Make the call's transcribe job look claimed by ``owner``."""
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == call_id)).one()
        job.status, job.lease_owner, job.attempts = JobStatus.RUNNING, owner, attempts
        job.lease_expires_at = utcnow() + timedelta(seconds=lease_left_s)
        return job.id


def _lock_file(rt, token: str) -> Path:  # type: ignore[no-untyped-def]
    folder = executor.workers_dir(rt)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}.lock"
    path.write_text("host 1\n")
    return path


def test_worker_names_carry_the_process_token() -> None:
    name = executor.worker_name()
    token = executor.owner_token(name)
    assert token is not None and token in name and len(name) <= 100
    assert executor.owner_token(executor.worker_name()) == token  # one per process
    assert executor.owner_token("test") is None
    assert executor.owner_token("host:12:abc123") is None  # an older version's name


def test_dead_worker_jobs_are_put_back_at_once(rt, tmp_path: Path) -> None:
    dead, alive = "a" * 12, "b" * 12
    cid_dead, cid_alive = _call(rt, tmp_path, 1), _call(rt, tmp_path, 2)
    job_dead = _hold(rt, cid_dead, f"h:99999:{dead}/x1")
    job_alive = _hold(rt, cid_alive, f"h:99998:{alive}/x2")
    dead_file = _lock_file(rt, dead)
    fd = os.open(_lock_file(rt, alive), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live process holds its lock
    try:
        released = executor.reclaim_dead_workers(rt, force=True)
    finally:
        os.close(fd)
    assert released == [job_dead]
    assert not dead_file.exists()  # cleaned up with its jobs
    with rt.db.session() as s:
        d, a = s.get(PipelineJob, job_dead), s.get(PipelineJob, job_alive)
        assert (d.status, d.lease_owner, d.attempts) == (JobStatus.PENDING, None, 1)
        assert (a.status, a.lease_owner) == (JobStatus.RUNNING, f"h:99998:{alive}/x2")
        events = list(s.scalars(select(PipelineEvent.detail).where(
            PipelineEvent.call_id == cid_dead, PipelineEvent.detail.is_not(None))))
        assert any("transcribe attempt 1 interrupted" in e for e in events), events
        # the put-back job is claimable now, with the live worker's still leased
        got = jobs.claim_next(s, "next", 60)
        assert got is not None and got.id == job_dead and got.attempts == 2
        assert jobs.claim_next(s, "next", 60) is None


def test_unknown_owners_wait_for_their_lease(rt, tmp_path: Path) -> None:
    """No lock file here (another machine, an older version): only the lease counts."""
    cid = _call(rt, tmp_path, 3)
    job_id = _hold(rt, cid, f"elsewhere:7:{'c' * 12}/x")
    assert executor.reclaim_dead_workers(rt, force=True) == []
    with rt.db.session() as s:
        assert s.get(PipelineJob, job_id).status == JobStatus.RUNNING


def test_own_process_lock_is_held_while_it_claims(rt, tmp_path: Path) -> None:
    cid = _call(rt, tmp_path, 4)
    name = executor.worker_name()
    executor.hold_process_lock(rt)
    job_id = _hold(rt, cid, name)
    lock = executor.workers_dir(rt) / f"{executor.owner_token(name)}.lock"
    assert lock.exists()
    fd = os.open(lock, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            raise AssertionError("the process lock is not held")
        except BlockingIOError:
            pass
    finally:
        os.close(fd)
    assert executor.reclaim_dead_workers(rt, force=True) == []
    with rt.db.session() as s:
        assert s.get(PipelineJob, job_id).lease_owner == name


def test_dead_worker_on_last_attempt_fails_the_call(rt, tmp_path: Path) -> None:
    token = "d" * 12
    cid = _call(rt, tmp_path, 5)
    job_id = _hold(rt, cid, f"h:1:{token}/x", attempts=rt.settings.max_attempts)
    _lock_file(rt, token)
    assert executor.reclaim_dead_workers(rt, force=True) == [job_id]
    with rt.db.session() as s:
        job, call = s.get(PipelineJob, job_id), s.get(Call, cid)
        assert job.status == JobStatus.FAILED and job.lease_owner is None
        assert call.status == "failed" and "worker process ended" in call.status_reason


def test_expired_lease_after_last_attempt_fails_instead_of_looping(rt, tmp_path: Path) -> None:
    """A step that kills its worker every time (out of memory, a native crash) used to be
    claimed again on every lease expiry, for ever; after max_attempts it fails."""
    cid = _call(rt, tmp_path, 6)
    job_id = _hold(rt, cid, "gone", attempts=rt.settings.max_attempts, lease_left_s=-1)
    with rt.db.session() as s:
        assert jobs.claim_next(s, "w", 60) is None
    with rt.db.session() as s:
        job, call = s.get(PipelineJob, job_id), s.get(Call, cid)
        assert job.status == JobStatus.FAILED and job.attempts == rt.settings.max_attempts
        assert call.status == "failed" and "lease expired" in call.status_reason


def test_expired_lease_before_last_attempt_is_claimed_again(rt, tmp_path: Path) -> None:
    cid = _call(rt, tmp_path, 7)
    job_id = _hold(rt, cid, "gone", attempts=1, lease_left_s=-1)
    with rt.db.session() as s:
        got = jobs.claim_next(s, "w", 60)
        assert got is not None and got.id == job_id and got.attempts == 2


def test_lost_database_connection_does_not_use_up_attempts(
        rt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A database restart cuts a step's connection: the step runs again, however often
    that happens, and the call does not fail for it. Other errors still count."""
    from sqlalchemy.exc import OperationalError

    cid = _call(rt, tmp_path, 8)

    def cut(*_a: object) -> None:
        raise OperationalError("UPDATE pipeline_jobs", {}, Exception("server closed the "
                               "connection unexpectedly"), connection_invalidated=True)

    monkeypatch.setitem(executor.STEP_FUNCTIONS, "transcribe", cut)
    for _ in range(rt.settings.max_attempts + 2):
        with rt.db.session() as s:
            s.execute(update(PipelineJob).values(available_at=utcnow()))
            job = jobs.claim_next(s, "w", 60)
        assert job is not None
        executor.run_job(rt, job, "w")
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == cid)).one()
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
        assert "database connection lost" in job.last_error
        assert s.get(Call, cid).status == "stored"

    def broken(*_a: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    monkeypatch.setitem(executor.STEP_FUNCTIONS, "transcribe", broken)
    for _ in range(rt.settings.max_attempts):
        with rt.db.session() as s:
            s.execute(update(PipelineJob).values(available_at=utcnow()))
            job = jobs.claim_next(s, "w", 60)
        assert job is not None
        executor.run_job(rt, job, "w")
    with rt.db.session() as s:
        assert s.get(Call, cid).status == "failed"


def test_process_lock_is_taken_in_every_home_it_works_for(rt, tmp_path: Path) -> None:
    """A lock held in one home says nothing to another home's workers: a process that
    works for a second home (tests, tools) takes its lock there too (it used to return
    early, so its jobs in the second home looked like a dead worker's)."""
    from types import SimpleNamespace

    other = SimpleNamespace(settings=SimpleNamespace(home=tmp_path / "other-home"))
    executor.hold_process_lock(other)  # type: ignore[arg-type]
    executor.hold_process_lock(rt)
    token = executor.owner_token(executor.worker_name())
    for home in (other.settings.home, rt.settings.home):
        lock = home / "run" / "workers" / f"{token}.lock"
        assert lock.exists(), lock
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
