"""Celery as the distributed pipeline engine (``broker_url`` set; docs/scale.md).

The database job table stays the source of truth. A Celery message carries no job:
it says "there is work in this queue". The task claims one job of its queue's steps
with a lease (``executor.run_one``: the same claim, heartbeat, attempts and failure
rules as the in-process workers), runs it, then publishes a message for the next
step's queue and one to replace itself. So a lost, duplicated or redelivered message
costs at most one empty claim, a step never runs twice at once, and a poison call
still fails after ``max_attempts`` into the visible ``failed`` state.

Tasks are acknowledged late and rejected when their worker process is lost, so a
worker killed mid-step has its message delivered again; the job itself goes back to
the queue through the dead-worker lock files (same host) or its lease (other hosts),
and the beat's sweep publishes work for whatever is runnable every ``broker_sweep_s``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery

from rokuon.config import Settings
from rokuon.pipeline import jobs

log = logging.getLogger("rokuon.pipeline.celery")

# queue name (without prefix) -> the steps its workers run
QUEUE_STEPS: dict[str, tuple[str, ...]] = {"transcribe": ("transcribe",),
                                           "analyze": ("analyze", "index")}
STEP_QUEUE = {step: q for q, steps in QUEUE_STEPS.items() for step in steps}
PERIODIC = ("retention", "reconcile", "breach_reminders", "leak_scan")

celery = Celery("rokuon", set_as_current=False)
_state: dict[str, Any] = {}
_state_lock = threading.Lock()
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                 "interval_max": 1.0}


def queue_name(settings: Settings, queue: str) -> str:
    return f"{settings.broker_queue_prefix}.{queue}"


def parse_queues(text: str) -> list[str]:
    """``transcribe,analyze`` -> the queue names, refusing unknown ones."""
    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUE_STEPS]
    if unknown or not names:
        raise ValueError(f"unknown queue(s) {', '.join(unknown) or '(none)'}: "
                         f"choose from {', '.join(QUEUE_STEPS)}")
    return names


def configure(settings: Settings) -> Celery:
    """Point the Celery app at ``settings.broker_url`` (before any task is published
    or a worker starts)."""
    if not settings.broker_url:
        raise ValueError("broker_url is not set (ROKUON_BROKER_URL)")
    from kombu import Queue

    visibility = max(600.0, settings.job_lease_s * 4)
    celery.conf.update(
        broker_url=settings.broker_url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(queue_name(settings, q)) for q in QUEUE_STEPS],
        task_default_queue=queue_name(settings, "analyze"),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for its broker to return
        broker_transport_options={"visibility_timeout": visibility},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=False,
    )
    with _state_lock:
        _state["settings"] = settings
    return celery


def _runtime():  # type: ignore[no-untyped-def]
    """This worker process's Runtime (one per process, shared by its pool threads: one
    speech model in memory)."""
    from rokuon.runtime import Runtime

    with _state_lock:
        if _state.get("pid") != os.getpid():
            settings: Settings = _state["settings"]
            _state.update(pid=os.getpid(), rt=Runtime(settings))
        return _state["rt"]


_names = threading.local()


def _worker() -> str:
    """This pool thread's lease-owner name (``host:pid:<token>/<n>``)."""
    from rokuon.pipeline.executor import worker_name

    name = getattr(_names, "name", None)
    if name is None or f":{os.getpid()}:" not in name:
        name = _names.name = worker_name()
    return str(name)


def publish_work(settings: Settings, queue: str, *, countdown: float = 0.0) -> None:
    celery.send_task("rokuon.work", args=[queue], queue=queue_name(settings, queue),
                     countdown=countdown or None, retry=True, retry_policy=PUBLISH_RETRY)


def publish_runnable(rt: Any) -> dict[str, float]:
    """One work message per queue that has runnable jobs (delayed until the first may
    be claimed). Returns queue -> delay."""
    with rt.db.session() as s:
        waits = jobs.runnable_steps(s)
    per_queue: dict[str, float] = {}
    for step, wait in waits.items():
        q = STEP_QUEUE.get(step)
        if q is not None:
            per_queue[q] = min(per_queue.get(q, wait), wait)
    for q, wait in per_queue.items():
        publish_work(rt.settings, q, countdown=wait + (0.5 if wait else 0.0))
    return per_queue


@celery.task(name="rokuon.work", acks_late=True, reject_on_worker_lost=True)
def work(queue: str) -> str | None:
    """Claim and run one job of this queue's steps; announce what follows."""
    from rokuon.pipeline.executor import run_one
    from rokuon.store.models import JobStatus, PipelineJob

    rt = _runtime()
    job = run_one(rt, _worker(), steps=QUEUE_STEPS[queue])
    if job is None:
        return None
    with rt.db.session() as s:
        now = s.get(PipelineJob, job.id)
        status = now.status if now is not None else None
        available = now.available_at if now is not None else None
    nxt = jobs.next_step(job.step)
    if status == JobStatus.DONE and nxt:
        publish_work(rt.settings, STEP_QUEUE[nxt])
    if status == JobStatus.PENDING and available is not None:  # a failed attempt
        from rokuon.store.models import utcnow

        delay = max(0.0, (available - utcnow()).total_seconds()) + 0.2
        publish_work(rt.settings, queue, countdown=delay)
    publish_work(rt.settings, queue)  # there may be more: this message's successor
    return f"{job.call_id}:{job.step}:{status}"


@celery.task(name="rokuon.sweep", acks_late=True)
def sweep() -> dict[str, float]:
    """Put back the jobs of dead workers on this host, publish work for what is
    runnable (lost messages, retries whose delay passed, leases that expired)."""
    from rokuon.pipeline.executor import reclaim_dead_workers

    rt = _runtime()
    reclaim_dead_workers(rt, force=True)
    return publish_runnable(rt)


@celery.task(name="rokuon.periodic", acks_late=True)
def periodic(name: str) -> str:
    """A cluster-wide schedule (published once per interval by the single beat)."""
    from rokuon.pipeline.celery_beat import run_periodic

    return run_periodic(_runtime(), name)
