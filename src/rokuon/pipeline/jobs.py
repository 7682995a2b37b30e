"""Durable job records: claim with a lease, heartbeat, complete, fail.

A job row exists for each (call, step) before any work starts. Workers claim a
job by an atomic conditional UPDATE; a job whose lease expired (its worker
died) can be claimed again. ``attempts`` counts claims, so a step that keeps
crashing its worker still ends as failed: a job whose lease expired after its last
allowed attempt is failed, never claimed again. A worker known to be dead (see
``executor.reclaim_dead_workers``) has its jobs put back at once, without waiting
for the lease to expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from rokuon.store.models import Call, CallStatus, JobStatus, PipelineEvent, PipelineJob, utcnow

STEPS = ("transcribe", "analyze", "index")
STATE_AFTER = {"transcribe": CallStatus.TRANSCRIBED, "analyze": CallStatus.ANALYZED,
               "index": CallStatus.INDEXED}


def next_step(step: str) -> str | None:
    i = STEPS.index(step)
    return STEPS[i + 1] if i + 1 < len(STEPS) else None


def enqueue(session: Session, call_id: str, step: str, *, max_attempts: int) -> PipelineJob:
    job = PipelineJob(call_id=call_id, step=step, max_attempts=max_attempts)
    session.add(job)
    return job


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(PipelineJob.status == JobStatus.PENDING, PipelineJob.available_at <= now),
        and_(PipelineJob.status == JobStatus.RUNNING, PipelineJob.lease_expires_at < now,
             PipelineJob.attempts < PipelineJob.max_attempts),
    )


def _fail_exhausted(session: Session, now: datetime,
                    call_ids: list[str] | None) -> None:
    """Jobs whose worker died during their last allowed attempt fail for good (a step
    that kills its worker, e.g. by running out of memory, must not loop forever)."""
    q = select(PipelineJob).where(PipelineJob.status == JobStatus.RUNNING,
                                  PipelineJob.lease_expires_at < now,
                                  PipelineJob.attempts >= PipelineJob.max_attempts)
    if call_ids is not None:
        q = q.where(PipelineJob.call_id.in_(call_ids))
    for job in session.scalars(q).all():
        _give_up(session, job, "the worker stopped (lease expired)", expired_before=now)
    session.commit()


def _give_up(session: Session, job: PipelineJob, why: str, *,
             expired_before: datetime | None = None) -> bool:
    """Fail a running job whose worker is gone after its last attempt (conditional on
    the job still being held by that worker, and its lease still expired)."""
    cond = [PipelineJob.id == job.id, PipelineJob.status == JobStatus.RUNNING,
            PipelineJob.lease_owner == job.lease_owner]
    if expired_before is not None:
        cond.append(PipelineJob.lease_expires_at < expired_before)
    res = session.execute(
        update(PipelineJob)
        .where(*cond)
        .values(status=JobStatus.FAILED, lease_owner=None, finished_at=utcnow(),
                last_error=f"attempt {job.attempts}: {why}")
    )
    if res.rowcount != 1:
        return False
    call = session.get(Call, job.call_id)
    if call is not None:
        call.status = CallStatus.FAILED
        call.status_reason = f"{job.step}: {why} in each of {job.attempts} attempts"
        session.add(PipelineEvent(call_id=call.id, state=CallStatus.FAILED,
                                  detail=f"{job.step} attempt {job.attempts}: {why}"))
    return True


def release_abandoned(session: Session, owners: list[str], why: str) -> list[int]:
    """Put the running jobs of workers known to be dead back in the queue now (or fail
    them when that was their last attempt). Commits; returns the released job ids."""
    if not owners:
        return []
    rows = session.scalars(select(PipelineJob).where(
        PipelineJob.status == JobStatus.RUNNING, PipelineJob.lease_owner.in_(owners))).all()
    released: list[int] = []
    for job in rows:
        if job.attempts >= job.max_attempts:
            if _give_up(session, job, why):
                released.append(job.id)
            continue
        res = session.execute(
            update(PipelineJob)
            .where(PipelineJob.id == job.id, PipelineJob.status == JobStatus.RUNNING,
                   PipelineJob.lease_owner == job.lease_owner)
            .values(status=JobStatus.PENDING, lease_owner=None, lease_expires_at=None,
                    available_at=utcnow(), last_error=f"attempt {job.attempts}: {why}")
        )
        if res.rowcount == 1:
            released.append(job.id)
            call = session.get(Call, job.call_id)
            if call is not None:
                session.add(PipelineEvent(
                    call_id=call.id, state=call.status,
                    detail=f"{job.step} attempt {job.attempts} interrupted: {why}"))
    session.commit()
    return released


def claim_next(
    session: Session, worker: str, lease_s: float, *, call_ids: list[str] | None = None,
    steps: tuple[str, ...] | None = None,
) -> PipelineJob | None:
    """Claim one runnable job (oldest first; only these ``steps`` when given: a worker
    serving some queues only). Commits the claim."""
    now = utcnow()
    _fail_exhausted(session, now, call_ids)
    q = select(PipelineJob.id).where(_claimable(now)).order_by(PipelineJob.id).limit(5)
    if call_ids is not None:
        q = q.where(PipelineJob.call_id.in_(call_ids))
    if steps is not None:
        q = q.where(PipelineJob.step.in_(steps))
    for job_id in session.scalars(q).all():
        res = session.execute(
            update(PipelineJob)
            .where(PipelineJob.id == job_id, _claimable(now))
            .values(
                status=JobStatus.RUNNING,
                lease_owner=worker,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempts=PipelineJob.attempts + 1,
            )
        )
        session.commit()
        if res.rowcount == 1:
            return session.get(PipelineJob, job_id, populate_existing=True)
    return None


def runnable_steps(session: Session) -> dict[str, float]:
    """Each step with queued work -> seconds until its first job may be claimed (0: now).
    Running jobs whose lease expired count as runnable now."""
    now = utcnow()
    out: dict[str, float] = {}
    rows = session.execute(select(PipelineJob.step, PipelineJob.status,
                                  PipelineJob.available_at, PipelineJob.lease_expires_at,
                                  PipelineJob.attempts, PipelineJob.max_attempts)
                           .where(PipelineJob.status.in_((JobStatus.PENDING,
                                                          JobStatus.RUNNING)))).all()
    for step, status, available, expires, attempts, max_attempts in rows:
        if status == JobStatus.PENDING:
            wait = max(0.0, (available - now).total_seconds()) if available else 0.0
        elif expires is not None and attempts < max_attempts:
            wait = max(0.0, (expires - now).total_seconds())
        else:
            wait = 0.0 if expires is not None and expires < now else -1.0
        if wait >= 0:
            out[step] = min(out.get(step, wait), wait)
    return out


def extend_lease(session: Session, job_id: int, worker: str, lease_s: float) -> bool:
    res = session.execute(
        update(PipelineJob)
        .where(PipelineJob.id == job_id, PipelineJob.lease_owner == worker,
               PipelineJob.status == JobStatus.RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
    )
    session.commit()
    return res.rowcount == 1


def still_owned(session: Session, job: PipelineJob, worker: str) -> bool:
    """Inside the step's final transaction: is the job still ours? (lock on PostgreSQL)"""
    q = select(PipelineJob).where(PipelineJob.id == job.id).with_for_update()
    current = session.scalars(q).one()
    return current.status == JobStatus.RUNNING and current.lease_owner == worker


def complete(session: Session, job: PipelineJob, *, max_attempts: int) -> None:
    """Mark the job done, advance the call, enqueue the next step (same transaction
    as the step's results)."""
    job = session.merge(job)
    job.status = JobStatus.DONE
    job.finished_at = utcnow()
    job.lease_owner = None
    call = session.get(Call, job.call_id)
    assert call is not None
    state = STATE_AFTER[job.step]
    call.status = state
    call.status_reason = None
    session.add(PipelineEvent(call_id=call.id, state=state))
    nxt = next_step(job.step)
    if nxt:
        enqueue(session, call.id, nxt, max_attempts=max_attempts)


def fail(session: Session, job_id: int, worker: str, error: str, *, permanent: bool,
         retry_delay_s: float, counted: bool = True) -> bool:
    """Record a failed attempt. Returns True when the job (and the call) failed for good.
    ``counted=False``: the attempt was cut short by something outside the step (the
    database dropped its connection): it is retried without using up an attempt."""
    job = session.get(PipelineJob, job_id, populate_existing=True)
    if job is None or job.lease_owner != worker:
        return False
    job.last_error = error[:2000]
    job.lease_owner = None
    if not counted:
        job.attempts = max(job.attempts - 1, 0)
        permanent = False
        error = f"{error} (not counted)"
    final = permanent or job.attempts >= job.max_attempts
    call = session.get(Call, job.call_id)
    if final:
        job.status = JobStatus.FAILED
        job.finished_at = utcnow()
        if call is not None:
            call.status = CallStatus.FAILED
            call.status_reason = f"{job.step}: {error}"[:2000]
            session.add(PipelineEvent(call_id=call.id, state=CallStatus.FAILED,
                                      detail=f"{job.step} attempt {job.attempts}: {error}"))
    else:
        job.status = JobStatus.PENDING
        job.available_at = utcnow() + timedelta(seconds=retry_delay_s * max(job.attempts, 1))
        if call is not None:
            session.add(PipelineEvent(call_id=call.id, state=call.status,
                                      detail=f"{job.step} attempt {job.attempts} failed: {error}"))
    session.commit()
    return final


def retry_failed(session: Session, call_id: str) -> int:
    """Put a failed call's failed job back in the queue (operator action)."""
    jobs = session.scalars(
        select(PipelineJob).where(PipelineJob.call_id == call_id,
                                  PipelineJob.status == JobStatus.FAILED)
    ).all()
    for job in jobs:
        job.status = JobStatus.PENDING
        job.attempts = 0
        job.available_at = utcnow()
        call = session.get(Call, call_id)
        if call is not None:
            prev = {"transcribe": CallStatus.STORED, "analyze": CallStatus.TRANSCRIBED,
                    "index": CallStatus.ANALYZED}[job.step]
            call.status = prev
            call.status_reason = None
    return len(jobs)


PREVIOUS_STATE = {"transcribe": CallStatus.STORED, "analyze": CallStatus.TRANSCRIBED,
                  "index": CallStatus.ANALYZED}


def rerun(session: Session, call_id: str, step: str) -> bool:
    """Run a processed call's ``step`` again (new word lists or scorecards, a new
    analyzer version): its job goes back to the queue and the later steps' jobs are
    removed — the step enqueues them again when it completes. False when the call has
    no such job or it is running now."""
    job = session.scalars(select(PipelineJob).where(PipelineJob.call_id == call_id,
                                                    PipelineJob.step == step)).first()
    if job is None or job.status in (JobStatus.RUNNING, JobStatus.PENDING):
        return False
    later = STEPS[STEPS.index(step) + 1:]
    session.execute(delete(PipelineJob).where(PipelineJob.call_id == call_id,
                                              PipelineJob.step.in_(later)))
    job.status, job.attempts, job.last_error = JobStatus.PENDING, 0, None
    job.available_at, job.finished_at, job.lease_owner = utcnow(), None, None
    call = session.get(Call, call_id)
    if call is not None:
        call.status, call.status_reason = PREVIOUS_STATE[step], None
        session.add(PipelineEvent(call_id=call_id, state=call.status, detail=f"rerun {step}"))
    return True
