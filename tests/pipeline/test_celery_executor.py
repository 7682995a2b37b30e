"""The Celery executor against a real broker (Redis, a database number and queue
prefix of the test's own): what ``notify`` publishes, the work task's claim and
hand-over, a poison call failing into the visible ``failed`` state, and the single-beat
lock. Real worker processes under faults: test_celery_faults.py."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_files
from rokuon.pipeline import celery_app, jobs
from rokuon.pipeline.celery_beat import BeatLock
from rokuon.pipeline.celery_executor import CeleryExecutor, make_executor
from rokuon.pipeline.executor import EmbeddedExecutor
from rokuon.store.models import Call, CallStatus, JobStatus, PipelineJob
from tests.helpers import tone_wav, write_transcript

REDIS = "redis://127.0.0.1:6379"
REDIS_DB = 13
CLI = Principal.cli()


@pytest.fixture
def broker(rt) -> Iterator[tuple[object, str]]:  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(f"{REDIS}/{REDIS_DB}")
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at {REDIS}: {exc}")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    rt.settings.broker_url = f"{REDIS}/{REDIS_DB}"
    rt.settings.broker_queue_prefix = prefix
    celery_app.configure(rt.settings)
    celery_app._state.update(pid=os.getpid(), rt=rt)
    yield client, prefix
    celery_app._state.clear()
    for pattern in (f"{prefix}.*", f"_kombu.binding*.{prefix}.*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    for key in client.scan_iter("unacked*"):  # kombu's bookkeeping of this database
        client.delete(key)
    client.close()


def _messages(client, prefix: str, queue: str) -> list[dict]:  # type: ignore[no-untyped-def]
    raw = client.lrange(f"{prefix}.{queue}", 0, -1)
    return [json.loads(m) for m in raw]


def _call(rt, tmp_path: Path, seed: int) -> str:  # type: ignore[no-untyped-def]
    p = tmp_path / f"c{seed}.wav"
    p.write_bytes(tone_wav(1.0, seed=seed))
    [res] = ingest_files(rt, [p], actor=CLI)
    assert res.call_id
    return res.call_id


def test_no_broker_keeps_the_embedded_executor(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.settings.broker_url == ""
    assert isinstance(make_executor(rt), EmbeddedExecutor)


def test_parse_queues_refuses_unknown_names() -> None:
    assert celery_app.parse_queues("transcribe, analyze") == ["transcribe", "analyze"]
    with pytest.raises(ValueError, match="unknown queue.*gpu"):
        celery_app.parse_queues("transcribe,gpu")


def test_claim_only_the_queue_steps(rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = _call(rt, tmp_path, 1)
    with rt.db.session() as s:
        assert jobs.claim_next(s, "w", 60, steps=("analyze", "index")) is None
        job = jobs.claim_next(s, "w", 60, steps=("transcribe",))
        assert job is not None and job.call_id == cid and job.step == "transcribe"


def test_notify_publishes_one_message_per_queue_with_work(  # type: ignore[no-untyped-def]
        rt, broker, tmp_path: Path) -> None:
    client, prefix = broker
    ex = make_executor(rt)
    assert isinstance(ex, CeleryExecutor)
    ex.notify()
    assert _messages(client, prefix, "transcribe") == []  # nothing queued yet
    _call(rt, tmp_path, 1)
    _call(rt, tmp_path, 2)
    ex.notify()
    msgs = _messages(client, prefix, "transcribe")
    assert len(msgs) == 1 and msgs[0]["headers"]["task"] == "rokuon.work"
    assert _messages(client, prefix, "analyze") == []


def test_work_task_runs_a_step_and_announces_the_next(  # type: ignore[no-untyped-def]
        rt, broker, tmp_path: Path) -> None:
    client, prefix = broker
    cid = _call(rt, tmp_path, 3)
    write_transcript(rt, cid, [("agent", 0.0, 1.0, "お電話ありがとうございます")])
    with rt.db.session() as s:  # back to "transcribed": analyze and index still to run
        s.query(PipelineJob).filter(PipelineJob.call_id == cid,
                                    PipelineJob.step != "transcribe").delete()
        s.get(Call, cid).status = CallStatus.TRANSCRIBED
        jobs.enqueue(s, cid, "analyze", max_attempts=3)
        s.commit()
    assert celery_app.work.run("transcribe") is None  # no transcribe work: no message
    assert _messages(client, prefix, "transcribe") == []
    out = celery_app.work.run("analyze")
    assert out == f"{cid}:analyze:done"
    assert len(_messages(client, prefix, "analyze")) == 2  # the index step + successor
    assert celery_app.work.run("analyze") == f"{cid}:index:done"
    with rt.db.session() as s:
        assert s.get(Call, cid).status == CallStatus.INDEXED


def test_poison_call_fails_visibly_after_its_attempts(  # type: ignore[no-untyped-def]
        rt, broker, tmp_path: Path) -> None:
    client, prefix = broker
    cid = _call(rt, tmp_path, 4)
    with rt.db.session() as s:
        key = s.get(Call, cid).blob_key
    path = rt.blobs.path_of(key)
    path.write_bytes(b"\0" * path.stat().st_size)  # the stored recording is destroyed
    import time

    for _ in range(20):
        with rt.db.session() as s:
            job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == cid)).one()
            if job.status == JobStatus.FAILED:
                break
            wait = max(0.0, (job.available_at - __import__(
                "rokuon.store.models", fromlist=["utcnow"]).utcnow()).total_seconds())
        time.sleep(wait + 0.05)
        celery_app.work.run("transcribe")
    with rt.db.session() as s:
        job = s.scalars(select(PipelineJob).where(PipelineJob.call_id == cid)).one()
        call = s.get(Call, cid)
        assert job.status == JobStatus.FAILED and job.last_error
        assert call.status == CallStatus.FAILED
        assert call.status_reason and call.status_reason.startswith("transcribe:")
        assert job.attempts <= job.max_attempts
    assert _messages(client, prefix, "transcribe")  # redelivery-safe: only empty claims


def test_only_one_beat_holds_the_lock(installation, settings) -> None:  # type: ignore[no-untyped-def]
    from rokuon.runtime import Runtime

    _, rt = installation
    other = Runtime(settings)
    a, b = BeatLock(rt), BeatLock(other)
    try:
        assert a.acquire() is True
        assert b.acquire() is False
        assert a.acquire() is True  # still held
        a.release()
        assert b.acquire() is True
        assert a.acquire() is False
    finally:
        a.release()
        b.release()
        other.close()


def test_web_app_with_a_broker_runs_no_step_and_holds_the_beat(  # type: ignore[no-untyped-def]
        rt, broker) -> None:
    from fastapi.testclient import TestClient

    from rokuon.web.app import create_app

    app = create_app(rt)
    assert isinstance(app.state.executor, CeleryExecutor)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        # the lifespan started the cluster's beat (not the in-process retention
        # scheduler): it holds the beat lock
        other = BeatLock(rt)
        import time

        deadline = time.monotonic() + 10
        while other.acquire() and time.monotonic() < deadline:  # until the beat has it
            other.release()
            time.sleep(0.1)
        assert other.acquire() is False, "the web process's beat did not take the lock"
        other.release()
